package sqlitefilter

import (
	"context"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

func queryA(name string) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	return m
}

func TestRewriteAppliesToAnswersServedFromCache(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "wal", rewrite4("192.0.2.1", "198.51.100.1")...)
	c := newChain(t, path, "", true)
	for i := range 2 {
		got := c.query(queryA("example.org."), false)
		if err := checkSection("answer", got.Answer, []string{"example.org. 300 IN A 198.51.100.1"}); err != nil {
			t.Fatalf("query %d: %v", i+1, err)
		}
	}
	if n := c.next.calls.Load(); n != 1 {
		t.Fatalf("next plugin called %d times, want 1 (the second answer must come from the cache)", n)
	}
}

// TestInMemoryRulesFollowTheDatabase adds a regex and a rewrite row while
// the server runs: both apply once the loader has seen the new generation.
func TestInMemoryRulesFollowTheDatabase(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "wal")
	c := newChain(t, path, "refresh 10ms", false)
	if got := c.query(queryA("ads.example.org."), false); got.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
		t.Fatalf("before the change: %v", got)
	}
	before := c.f.rules.Load()
	testkit.InsertRows(t, path, rowsOf(regexRows(`^ads\.`), rewrite4("192.0.2.1", "198.51.100.1"))...)
	if !testkit.Poll(20*time.Second, func() bool {
		r := c.f.rules.Load()
		return r != before && r.set.Regex.Len() == 1 && r.set.Rewrite.Len() == 1
	}) {
		t.Fatal("the new rows were not loaded")
	}
	if got := c.query(queryA("ads.example.org."), false); got.Answer[0].(*dns.A).A.String() != "0.0.0.0" {
		t.Fatalf("regex added: %v", got)
	}
	if got := c.query(queryA("www.example.org."), false); got.Answer[0].(*dns.A).A.String() != "198.51.100.1" {
		t.Fatalf("rewrite added: %v", got)
	}
}

// TestRegexAppliesFromTheFirstQuery: a file is published with its
// in-memory rules, so no decision ever runs on its data without the regex
// set, whatever rules the caller read before.
func TestRegexAppliesFromTheFirstQuery(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "wal", rowsOf(regexRows(`^ads\.`), exact("x.test"))...)
	c := newChain(t, path, "", false)
	if v, err := c.f.decide("ads.example.org", nil, new(decideStats)); err != nil || v.Action != policy.ActionBlock {
		t.Fatalf("with no rules read by the caller: %+v, %v; want block", v, err)
	}
	if v, err := c.f.decide("x.test", nil, new(decideStats)); err != nil || v.Action != policy.ActionBlock {
		t.Fatalf("exact rows apply without the regex set: %+v, %v", v, err)
	}
	if v, err := c.f.decide("ads.example.org", c.f.rules.Load(), new(decideStats)); err != nil || v.Action != policy.ActionBlock {
		t.Fatalf("with the regex set: %+v, %v; want block", v, err)
	}
}

func TestRegexAndRewriteCaps(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "wal", rowsOf(regexRows(`^a\.`, `^b\.`, `^c\.`), rewrite4("192.0.2.1", "198.51.100.1"), rewrite4("192.0.2.2", "198.51.100.2"))...)
	before := testutil.ToFloat64(rowsSkipped.WithLabelValues("block_regex", policy.ReasonOverCap))
	c := newChain(t, path, "regex_max 2\nrewrite_max 1", false)
	r := c.f.rules.Load()
	if r.set.Regex.Len() != 2 || r.set.Rewrite.Len() != 1 {
		t.Fatalf("loaded %d patterns and %d rewrites, want 2 and 1", r.set.Regex.Len(), r.set.Rewrite.Len())
	}
	if d := testutil.ToFloat64(rowsSkipped.WithLabelValues("block_regex", policy.ReasonOverCap)) - before; d != 1 {
		t.Fatalf("over_cap counted %v times, want 1", d)
	}
}

// TestBadRowsAreCountedOnce: each unusable row is counted once, however
// often it is met (every rebuild, every query).
func TestBadRowsAreCountedOnce(t *testing.T) {
	rows := rowsOf(
		regexRows(`(unclosed`),
		rewrite4("300.1.1.1", "192.0.2.1"),
		rewrite4("192.0.2.7", "2001:db8::1"),
		rewrite6("192.0.2.8", "2001:db8::1"),
		aliasRow("intel.com", "not a name"),
	)
	want := []struct{ table, reason string }{
		{"block_regex", policy.ReasonBadPattern},
		{"ip_rewrite_v4", policy.ReasonBadAddress},
		{"ip_rewrite_v4", policy.ReasonWrongFamily},
		{"ip_rewrite_v6", policy.ReasonWrongFamily},
		{"domain_alias", policy.ReasonBadTarget},
	}
	before := make([]float64, len(want))
	for i, w := range want {
		before[i] = testutil.ToFloat64(rowsSkipped.WithLabelValues(w.table, w.reason))
	}
	c := newChain(t, testkit.NewDB(t, schema.PerType, "wal", rows...), "", false)
	for range 3 {
		if got := c.query(queryA("www.intel.com."), false); got.Rcode != dns.RcodeSuccess || len(got.Answer) != 1 {
			t.Fatalf("the server must keep serving: %v", got)
		}
	}
	for i, w := range want {
		if d := testutil.ToFloat64(rowsSkipped.WithLabelValues(w.table, w.reason)) - before[i]; d != 1 {
			t.Errorf("rows_skipped_total{%s,%s} grew by %v, want 1", w.table, w.reason, d)
		}
	}
}

// TestRefusedBlockIsWritten: REFUSED is a reply the plugin wrote, so it
// returns success and the server does not write a second one.
func TestRefusedBlockIsWritten(t *testing.T) {
	c := newChain(t, testkit.NewDB(t, schema.PerType, "wal", exact("ads.test")...), "block_response refused", false)
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	rcode, err := c.f.ServeDNS(context.Background(), rec, queryA("ads.test."))
	if err != nil || rcode != dns.RcodeSuccess {
		t.Fatalf("ServeDNS = %d, %v; want RcodeSuccess", rcode, err)
	}
	if rec.Msg == nil || rec.Msg.Rcode != dns.RcodeRefused {
		t.Fatalf("written reply %v, want REFUSED", rec.Msg)
	}
}

func TestUpstreamsStartAndStop(t *testing.T) {
	up := testkit.StartUpstream(t, recipe("203.0.113.7"))
	c := newChain(t, testkit.NewDB(t, schema.PerType, "wal", dnsBlock("evil.com")...), "block_upstream "+up.Addr, false)
	if got := c.query(queryA("evil.com."), true); got.Rcode != dns.RcodeSuccess || up.TCPQueries() != 1 {
		t.Fatalf("TCP query: %v, upstream saw %d TCP queries, want 1", got, up.TCPQueries())
	}
	if err := c.f.Stop(); err != nil {
		t.Fatal(err)
	}
	if c.f.rules.Load() != nil {
		t.Fatal("rules kept after Stop")
	}
}

func TestDecideRuleOfAnAliasedBlock(t *testing.T) {
	c := newChain(t, testkit.NewDB(t, schema.PerType, "wal", rowsOf(aliasRow("intel.com", "keweon.center"), wildcard("keweon.center"))...), "", false)
	v, err := c.f.decide("www.intel.com", c.f.rules.Load(), new(decideStats))
	if err != nil {
		t.Fatal(err)
	}
	if v.Action != policy.ActionBlock || v.Rule != (policy.Rule{Table: schema.BlockWildcard, Key: "keweon.center"}) || len(v.Aliases) != 1 ||
		v.Aliases[0] != (policy.Hop{Rule: policy.Rule{Table: schema.Alias, Key: "intel.com"}, Name: "www.keweon.center", Lists: policy.DefaultLists}) {
		t.Fatalf("verdict %+v", v)
	}
}

// BenchmarkDecideNoMatchRegex10k measures the whole decision (SQLite probes
// of every table and the regex set) for names that match none of 10,000
// realistic patterns and have no row.
func BenchmarkDecideNoMatchRegex10k(b *testing.B) {
	patterns := testkit.RegexPatterns(10000)
	c := newChain(b, testkit.NewDB(b, schema.PerType, "wal", regexRows(patterns...)...), "", false)
	rs := c.f.rules.Load()
	names := testkit.OrdinaryNames(func(name string) bool { _, ok := rs.set.Regex.Match(name); return ok })
	var d []time.Duration
	i := 0
	for b.Loop() {
		name := names[i%len(names)]
		start := time.Now()
		v, err := c.f.decide(name, rs, new(decideStats))
		d = append(d, time.Since(start))
		if err != nil || v.Action != policy.ActionPass {
			b.Fatalf("%s: %+v, %v", name, v, err)
		}
		i++
	}
	testkit.ReportPercentiles(b, d)
}

// TestNewAliasIsNotMissedByAStaleNoAliasFlag: the loader's "no alias rows"
// only holds for the generation it was read in.
func TestNewAliasIsNotMissedByAStaleNoAliasFlag(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "wal")
	c := newChain(t, path, "refresh 1h", false)
	rs := c.f.rules.Load()
	if !rs.set.NoAliases {
		t.Fatal("an empty domain_alias should be known empty")
	}
	testkit.InsertRows(t, path, aliasRow("intel.com", "keweon.center")...)
	if changed, err := c.f.files.first().Refresh(); err != nil || !changed {
		t.Fatalf("Refresh = %t, %v", changed, err)
	}
	v, err := c.f.decide("www.intel.com", rs, new(decideStats)) // rules of the previous generation
	if err != nil || v.Action != policy.ActionAlias || v.Target != "www.keweon.center" {
		t.Fatalf("verdict %+v, %v; want the new alias", v, err)
	}
}
