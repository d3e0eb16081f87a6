package sqlitefilter

import (
	"context"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// The cache and Bloom counters move with what the decisions really did: a
// name in no table is answered by the Bloom filter without SQLite, and not
// cached (the filter decides it again for less than an entry costs); a name
// SQLite had to answer is cached, so its second query is a cache hit.
func TestCacheAndBloomMetrics(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockExact("ads.example.com")...)
	f := startFilter(t, path, 1<<20)
	waitFilterReady(t, f)
	f.Next = test.NextHandler(dns.RcodeSuccess, nil)
	// No server in the context: the labels are empty.
	hits, misses, negatives := cacheHits.WithLabelValues("", ""), cacheMisses.WithLabelValues("", ""), bloomNegatives.WithLabelValues("", "")
	h0, m0, n0 := testutil.ToFloat64(hits), testutil.ToFloat64(misses), testutil.ToFloat64(negatives)

	serve := func(name string) {
		m := new(dns.Msg).SetQuestion(name, dns.TypeA)
		if _, err := f.ServeDNS(context.Background(), dnstest.NewRecorder(&test.ResponseWriter{}), m); err != nil {
			t.Fatal(err)
		}
	}
	serve("www.unlisted.example.")
	if got := testutil.ToFloat64(misses) - m0; got != 1 {
		t.Errorf("cache misses moved by %v, want 1", got)
	}
	// Every probe of the unlisted name's suffixes is a Bloom negative
	// (bar a false positive, ~1 %): at least the exact probe of the name.
	if got := testutil.ToFloat64(negatives) - n0; got < 1 {
		t.Errorf("Bloom negatives moved by %v, want at least 1", got)
	}
	serve("www.unlisted.example.")
	if got := testutil.ToFloat64(hits) - h0; got != 0 {
		t.Errorf("cache hits moved by %v for a name the filter decides alone, want 0", got)
	}
	serve("ads.example.com.")
	serve("ads.example.com.")
	if got := testutil.ToFloat64(hits) - h0; got != 1 {
		t.Errorf("cache hits moved by %v, want 1", got)
	}
}
