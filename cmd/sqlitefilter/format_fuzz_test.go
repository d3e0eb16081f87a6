package main

import (
	"strings"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// The fuzz targets below feed arbitrary lines to each format's parser. What
// must hold for every line: no panic; every row is in stored form (its key
// and target come back unchanged from the canonicaliser, so they are valid
// by its own rules and canonicalising again changes nothing); every part of
// a line that gave no row has a reason; and a line that gave neither rows
// nor reasons is one the format ignores (blank or a comment). Seeds are in
// f.Add and in testdata/fuzz/<target>/; a finding becomes a file there.

func fuzzFormat(f *testing.F, fm format, table schema.Table, ignored func(string) bool, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		p := parser{format: fm, table: table}
		var o outcome
		p.parse(line, &o)
		checkOutcome(t, line, &o, ignored)
	})
}

func checkOutcome(t *testing.T, line string, o *outcome, ignored func(string) bool) {
	t.Helper()
	for _, e := range o.entries {
		key, err := canonicalKey(e.table, e.key)
		if err != nil || key != e.key {
			t.Fatalf("line %q gave %s key %q, which canonicalises to %q, %v", line, e.table, e.key, key, err)
		}
		if e.table != schema.BlockRegex && e.table != schema.RewriteV4 && e.table != schema.RewriteV6 {
			if e.key != strings.ToLower(e.key) || strings.HasSuffix(e.key, ".") {
				t.Fatalf("line %q gave %s key %q: not lower case without a trailing dot", line, e.table, e.key)
			}
		}
		if e.table.TargetColumn() == "" {
			if e.target != "" {
				t.Fatalf("line %q gave a target %q for %s, which has none", line, e.target, e.table)
			}
			continue
		}
		target, err := canonicalTarget(e.table, e.target)
		if err != nil || target != e.target {
			t.Fatalf("line %q gave %s target %q, which canonicalises to %q, %v", line, e.table, e.target, target, err)
		}
	}
	for _, pr := range o.problems {
		if strings.TrimSpace(pr.reason) == "" {
			t.Fatalf("line %q: a problem without a reason (skipped=%v)", line, pr.skipped)
		}
	}
	if len(o.entries) == 0 && len(o.problems) == 0 && !ignored(line) {
		t.Fatalf("line %q gave neither a row nor a reason", line)
	}
}

// blankOr returns a test for lines that are blank or start, once trimmed,
// with one of the comment markers.
func blankOr(markers ...string) func(string) bool {
	return func(line string) bool {
		line = strings.TrimSpace(line)
		if line == "" {
			return true
		}
		for _, m := range markers {
			if strings.HasPrefix(line, m) {
				return true
			}
		}
		return false
	}
}

// commentOnly reports whether a plain or hosts line holds nothing but a
// comment.
func commentOnly(line string) bool { return len(strings.Fields(stripComment(line))) == 0 }

func FuzzParsePlain(f *testing.F) {
	fuzzFormat(f, formatPlain, schema.BlockExact, commentOnly,
		"ads.example.com", "Ads.Example.COM. # tracker", "# comment", "", "0.0.0.0 ads.example",
		"bücher.example", "a..b", "\xff\xfe", "_dmarc.example.com", "x';drop table block_exact;--")
}

func FuzzParseHosts(f *testing.F) {
	fuzzFormat(f, formatHosts, schema.BlockExact, commentOnly,
		"0.0.0.0 ads.example.com", "127.0.0.1\tlocalhost", "::1 ip6-localhost ip6-loopback",
		"127.0.0.1 a.example B.example. # two", "notanip ads.example", "0.0.0.0", "fe80::1%eth0 zone.example")
}

func FuzzParseAdblock(f *testing.F) {
	fuzzFormat(f, formatAdblock, schema.BlockWildcard, blankOr("!", "["),
		"||ads.example.com^", "||ads.example.com^$important", "@@||good.example.com^", "! comment",
		"[Adblock Plus 2.0]", "example.com##.banner", "||ads.example.com^$third-party", "||a/b^", "||^", "@@", "||Ünï.example^|")
}

func FuzzParseDnsmasq(f *testing.F) {
	fuzzFormat(f, formatDnsmasq, schema.BlockWildcard, blankOr("#"),
		"address=/ads.example.com/0.0.0.0", "address=/a.example/b.example/", "server=/corp.example/10.0.0.1",
		"cache-size=1000", "address=ads.example", "address=/#/", "address=///", "server=/.lead.example/", "=")
}

func FuzzParseRegex(f *testing.F) {
	fuzzFormat(f, formatRegex, schema.BlockRegex, blankOr("#"),
		`^ads?\.example\.com$`, `(unclosed`, `# comment`, `\D+`, `a{1001}`, `(?i)Tracker`)
}

func FuzzParseCSV(f *testing.F) {
	tables := []schema.Table{schema.Alias, schema.RewriteV4, schema.RewriteV6}
	for _, s := range []string{"intel.com,keweon.center", "source,target", `"a.example", "b.example"`, "10.1.2.3/8,192.0.2.1",
		"192.0.2.1,2001:db8::1", "2001:DB8::1,2001:0db8::2", "::ffff:192.0.2.1,::1", "a,b,c", `"unclosed,x`, "# comment"} {
		for i := range tables {
			f.Add(s, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, line string, table uint8) {
		p := parser{format: formatCSV, table: tables[int(table)%len(tables)]}
		var o outcome
		p.parse(line, &o)
		checkOutcome(t, line, &o, blankOr("#"))
	})
}
