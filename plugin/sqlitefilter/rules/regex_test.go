package rules

import (
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"slices"
	"testing"
	"time"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
)

func TestRequiredLiterals(t *testing.T) {
	tests := []struct {
		pattern string
		want    []string // nil: no usable literal, tried on every name
	}{
		{`^ads\.example\.com$`, []string{"ads.example.com"}},
		{`tracker`, []string{"tracker"}},
		{`(?i)TrAcKeR`, []string{"tracker"}},
		{`^ad[sx]\.`, []string{"ads.", "adx."}},
		{`(^|\.)doubleclick\.net$`, []string{"doubleclick.net"}},
		{`^(ads|tracker)\.`, []string{"ads.", "tracker."}},
		{`^ads?[0-9]*\.example\.`, []string{".example."}},
		{`^(.+[_.-])?adse?rv(er?|ice)?s?[0-9]*[_.-]`, []string{"adsrv", "adserv"}},
		{`^[a-z0-9]{10,}\.cloudfront\.net$`, []string{".cloudfront.net"}},
		{`metrics+\.`, []string{"metric"}},
		{`^[0-9]+\.[0-9]+\.`, nil},
		{`.*`, nil},
		{`^a`, nil},     // one byte is no filter
		{`x|ab.*`, nil}, // one branch has no usable literal
		{`^(a|b|c|d|e)z`, []string{"az", "bz", "cz", "dz", "ez"}},
		{`^[0-9]z`, nil}, // ten one-byte prefixes are not expanded
	}
	for _, tc := range tests {
		re, err := syntax.Parse(tc.pattern, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		got := requiredLiterals(re)
		slices.Sort(got)
		slices.Sort(tc.want)
		if !slices.Equal(got, tc.want) {
			t.Errorf("requiredLiterals(%q) = %q, want %q", tc.pattern, got, tc.want)
		}
	}
}

// TestRegexSetMatchesAsTheRegexpsDo compares the set with trying every
// pattern on its own, over patterns of every construct and random names.
func TestRegexSetMatchesAsTheRegexpsDo(t *testing.T) {
	patterns := []string{
		`^ads\.`, `tracker`, `(?i)BANNER`, `^ad[sxv]?[0-9]*\.`, `(^|\.)doubleclick\.net$`,
		`^(.+[_.-])?adse?rv(er?|ice)?s?[0-9]*[_.-]`, `^[a-z0-9]{10,}\.cdn\.test$`, `^[0-9]+\.[0-9]+\.`,
		`metrics+\.`, `\bpix(el)?\b`, `^(www\.)?evil-[a-z]+\.`, `a{3}`, `^x.y$`, `z$`, `[[:digit:]]{4}`,
		`(?:stat|count)s?\.`, `^$`, `\.(top|xyz)$`, `(unclosed`, `ab|cd|ef`, `[^.]+\.ads\.`,
	}
	b := NewRegexSetBuilder()
	var res []*regexp.Regexp
	var kept []string
	for _, p := range patterns {
		if err := b.Add(p); err != nil {
			if p != `(unclosed` {
				t.Fatalf("Add(%q): %v", p, err)
			}
			continue
		}
		res = append(res, regexp.MustCompile(p))
		kept = append(kept, p)
	}
	set := b.Build()
	if set.Len() != len(kept) {
		t.Fatalf("Len = %d, want %d", set.Len(), len(kept))
	}
	names := []string{
		"ads.example.com", "www.tracker.net", "banner.test", "adx12.test", "doubleclick.net", "x.doubleclick.net",
		"mydoubleclick.net", "cdn-adserver-1.test", "abcdefghij1.cdn.test", "1.2.example", "metricsss.test",
		"pix.test", "pixel.test", "pixels.test", "evil-corp.test", "www.evil-corp.test", "aaa.test", "xay", "fizz",
		"year2026.test", "stats.test", "counts.test", "", "ab", "site.top", "foo.ads.bar", "www.example.org",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcdeilmnprstvxyz0123.-"
	for range 5000 {
		n := make([]byte, 1+rng.IntN(20))
		for i := range n {
			n[i] = alphabet[rng.IntN(len(alphabet))]
		}
		names = append(names, string(n))
	}
	for _, name := range names {
		first := ""
		for i, re := range res {
			if re.MatchString(name) {
				first = kept[i]
				break
			}
		}
		got, ok := set.Match(name)
		if ok != (first != "") || got != first {
			t.Fatalf("Match(%q) = %q, %t; want %q (the first pattern in table order)", name, got, ok, first)
		}
	}
}

func TestEmptyRegexSetMatchesNothing(t *testing.T) {
	var nilSet *RegexSet
	for _, s := range []*RegexSet{nilSet, NewRegexSetBuilder().Build()} {
		if p, ok := s.Match("ads.example.com"); ok {
			t.Fatalf("matched %q", p)
		}
	}
}

func matches(set *RegexSet, name string) bool { _, ok := set.Match(name); return ok }

func buildSet(tb testing.TB, patterns []string) *RegexSet {
	b := NewRegexSetBuilder()
	for _, p := range patterns {
		if err := b.Add(p); err != nil {
			tb.Fatal(err)
		}
	}
	return b.Build()
}

// BenchmarkRegexLoad10k measures compiling 10,000 realistic patterns (the
// goal is under 2 s).
func BenchmarkRegexLoad10k(b *testing.B) {
	patterns := testkit.RegexPatterns(10000)
	for b.Loop() {
		buildSet(b, patterns)
	}
}

// BenchmarkRegexNoMatch10k measures matching names that match none of
// 10,000 realistic patterns, and reports the median and 99th percentile of
// single calls (the goal is a median of at most 20 µs).
func BenchmarkRegexNoMatch10k(b *testing.B) {
	set := buildSet(b, testkit.RegexPatterns(10000))
	names := testkit.OrdinaryNames(func(name string) bool { return matches(set, name) })
	if len(names) < 50 {
		b.Fatalf("only %d ordinary names match none of the patterns", len(names))
	}
	b.ReportMetric(float64(set.Unfiltered()), "unfiltered-patterns")
	var d []time.Duration
	i := 0
	for b.Loop() {
		name := names[i%len(names)]
		start := time.Now()
		if _, ok := set.Match(name); ok {
			b.Fatalf("%s matched", name)
		}
		d = append(d, time.Since(start))
		i++
	}
	testkit.ReportPercentiles(b, d)
}

// BenchmarkRegexReload100k is the rebuild after one block_regex row of
// 100,000 changed: every other pattern's compiled form is reused.
func BenchmarkRegexReload100k(b *testing.B) {
	patterns := testkit.RegexPatterns(100000)
	prev := buildSet(b, patterns)
	changed := append(slices.Clone(patterns[1:]), `^new[0-9]+\.tracker\.`)
	for b.Loop() {
		rb := NewRegexSetBuilder()
		rb.Reuse(prev)
		for _, p := range changed {
			if err := rb.Add(p); err != nil {
				b.Fatal(err)
			}
		}
		rb.Build()
	}
}
