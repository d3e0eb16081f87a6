package sqlitefilter

import (
	"context"
	"testing"
	"time"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin/metadata"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// TestCachedAnswersAreChecked: the cache plugin sits after sqlitefilter, so
// an answer it cached before a chain name was blocked is checked when it
// serves it again, and blocked.
func TestCachedAnswersAreChecked(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "wal")
	c := newChain(t, path, "refresh 10ms", true)
	if got := c.query(queryA("metrics.shop.test."), false); len(got.Answer) != 2 {
		t.Fatalf("before the block: %v", got)
	}
	testkit.InsertRows(t, path, rowsOf(wildcard("tracker-cdn.test"), blockIP4("198.18.0.66"))...)
	if !testkit.Poll(20*time.Second, func() bool {
		got := c.query(queryA("metrics.shop.test."), false)
		return len(got.Answer) == 1 && got.Answer[0].(*dns.A).A.String() == "0.0.0.0"
	}) {
		t.Fatal("the cached chain to a blocked name was not blocked")
	}
	if n := c.next.calls.Load(); n != 1 {
		t.Fatalf("next plugin called %d times, want 1 (the answers after the first come from the cache)", n)
	}
	// The address set is reloaded with the rules, which may land a refresh
	// after the wildcard row (read from SQLite directly) applies.
	c.query(queryA("ip.test."), false) // cached now
	var got *dns.Msg
	if !testkit.Poll(20*time.Second, func() bool {
		got = c.query(queryA("ip.test."), false)
		return len(got.Answer) == 1 && got.Answer[0].(*dns.A).A.String() == "0.0.0.0"
	}) {
		t.Fatalf("a cached blocked address: %v", got)
	}
}

// TestAnswerBlocksAreNamedInMetricsAndMetadata: the requests metric counts
// block_cname and block_ip instead of pass, and the metadata names the
// action and the row.
func TestAnswerBlocksAreNamedInMetricsAndMetadata(t *testing.T) {
	path := testkit.NewDB(t, schema.Normalized, "wal", rowsOf(wildcard("tracker-cdn.test"), blockIP4("198.18.0.0/16"))...)
	c := newChain(t, path, "", false)
	tests := []struct{ qname, action, rule, list string }{
		{"metrics.shop.test.", "block_cname", "block_wildcard tracker-cdn.test", "default"},
		{"ip.test.", "block_ip", "block_ip_v4 198.18.0.0/16", "default"},
		{"example.org.", "pass", "-", "-"},
	}
	for _, tc := range tests {
		counter := requestCount.WithLabelValues(c.srv.Addr, "", tc.action, tc.list)
		before := testutil.ToFloat64(counter)
		ctx := metadata.ContextWithMetadata(context.WithValue(context.Background(), dnsserver.Key{}, c.srv))
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		r := queryA(tc.qname)
		ctx = c.f.Metadata(ctx, request.Request{W: rec, Req: r})
		if _, err := c.f.ServeDNS(ctx, rec, r); err != nil {
			t.Fatal(err)
		}
		if d := testutil.ToFloat64(counter) - before; d != 1 {
			t.Errorf("%s: requests_total{action=%q} grew by %v, want 1", tc.qname, tc.action, d)
		}
		if got := metadata.ValueFunc(ctx, "sqlitefilter/action")(); got != tc.action {
			t.Errorf("%s: action metadata %q, want %q", tc.qname, got, tc.action)
		}
		if got := metadata.ValueFunc(ctx, "sqlitefilter/rule")(); got != tc.rule {
			t.Errorf("%s: rule metadata %q, want %q", tc.qname, got, tc.rule)
		}
		if got := metadata.ValueFunc(ctx, "sqlitefilter/list")(); got != tc.list {
			t.Errorf("%s: list metadata %q, want %q", tc.qname, got, tc.list)
		}
	}
}
