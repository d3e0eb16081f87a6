package testkit

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// ShardCorpus returns rows over a small name space, so that rows sit at
// every level of each other's suffixes, and the names to ask about: every
// name of the space and a deeper one below each. It is the same on every
// call, so a verdict on the unsplit file can be compared with one on its
// shards.
func ShardCorpus() (rows []Row, queries []string) {
	r := rand.New(rand.NewPCG(7, 11))
	labels := []string{"a", "ads", "cdn", "www", "x1"}
	bases := []string{"example.com", "example.net", "tracker.org", "shop.co.uk"}
	var names []string
	for _, b := range bases {
		names = append(names, b)
		for _, l1 := range labels {
			names = append(names, l1+"."+b)
			for _, l2 := range labels {
				names = append(names, l2+"."+l1+"."+b)
			}
		}
	}
	names = append(names, "com", "net", "org", "co.uk", "uk")
	for _, n := range names {
		queries = append(queries, n, "deep.er."+n)
		switch p := r.IntN(100); {
		case p < 5:
			rows = append(rows, Allow(n)...)
		case p < 15:
			rows = append(rows, BlockExact(n)...)
		case p < 23:
			rows = append(rows, BlockWildcard(n)...)
		case p < 28:
			rows = append(rows, DNSBlock(n)...)
		case p < 35:
			rows = append(rows, Alias(n, names[r.IntN(len(names))])...)
		}
	}
	rows = Rows(rows, BlockRegex(`^x1\.cdn\.`), RewriteV4("192.0.2.1", "198.51.100.1"))
	return rows, queries
}

// RegexPatterns returns n distinct block_regex patterns shaped like those of
// public regex blocklists: anchored prefixes, (^|\.) suffix rules,
// separators, optional digits, alternations; about 1 in 500 has no literal
// at all. It is the same on every call.
func RegexPatterns(n int) []string {
	rng := rand.New(rand.NewPCG(7, 9))
	word := func() string {
		syl := []string{"ad", "trak", "met", "ri", "ban", "ner", "pix", "el", "stat", "count", "click", "log", "tele",
			"me", "try", "ana", "ly", "tics", "beac", "on", "spy", "ware", "pop", "up", "serv", "cdn", "zo", "ka", "vu"}
		var b strings.Builder
		for range 2 + rng.IntN(2) {
			b.WriteString(syl[rng.IntN(len(syl))])
		}
		return b.String()
	}
	tld := []string{"com", "net", "org", "xyz", "top", "info", "io"}
	templates := []func() string{
		func() string { return fmt.Sprintf(`^%s[0-9]*\.`, word()) },
		func() string { return fmt.Sprintf(`(^|\.)%s\.%s$`, word(), tld[rng.IntN(len(tld))]) },
		func() string { return fmt.Sprintf(`^(.+[_.-])?%s[_.-]`, word()) },
		func() string { return fmt.Sprintf(`^%s[0-9]{2,}\.%s\.`, word(), word()) },
		func() string { return fmt.Sprintf(`\.%s\.%s\.(com|net)$`, word(), word()) },
		func() string { return fmt.Sprintf(`^[a-z0-9]{8,}\.%s\.(com|net)$`, word()) },
		func() string { return fmt.Sprintf(`^(www\.)?%s-%s\.`, word(), word()) },
		func() string { return fmt.Sprintf(`%s(s|er|ing)?[0-9]*\.%s`, word(), word()) },
		func() string { return fmt.Sprintf(`^(%s|%s)[0-9]*\.%s\.`, word(), word(), tld[rng.IntN(len(tld))]) },
	}
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		p := templates[rng.IntN(len(templates))]()
		if len(out)%500 == 499 {
			p = fmt.Sprintf(`^[0-9a-f]{%d}\.`, 20+len(out)/500)
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// OrdinaryNames are names of ordinary traffic for which matches (a regex
// set's) is false.
func OrdinaryNames(matches func(name string) bool) []string {
	bases := []string{"google.com", "github.com", "example.org", "wikipedia.org", "cloudflare.net", "amazonaws.com",
		"mozilla.org", "debian.org", "apple.com", "microsoft.com", "akamaiedge.net", "fastly.net"}
	hosts := []string{"www", "mail", "api", "cdn-12.static", "login", "images", "eu-west-1.s3", "ocsp", "time", "update"}
	var out []string
	for _, h := range hosts {
		for _, b := range bases {
			if n := h + "." + b; !matches(n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// ReportPercentiles reports the median and 99th percentile of the durations
// of single calls a benchmark timed (it sorts d).
func ReportPercentiles(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "median-ns")
	b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds()), "p99-ns")
}
