package test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// The whole decision and the blocked answers through the real binary, over UDP and TCP:
// a representative subset of the in-process conformance suite
// (plugin/sqlitefilter/conformance_test.go), for what only the real server
// shows: the alias lookup re-entering the chain, forward behind the plugin,
// the cache plugin after it, and the upstream proxies.

// decisionRows holds one row per rule the tests below exercise.
var decisionRows = testkit.Rows(
	testkit.BlockWildcard("doubleclick.net"),
	testkit.Allow("good.doubleclick.net"),
	testkit.Allow("allowed.test"),
	testkit.BlockExact("ads.allowed.test"),
	testkit.BlockRegex(`^ads?[0-9]*\.`),
	testkit.DNSBlock("evil.test"),
	testkit.Alias("intel.test", "keweon.test"),
	testkit.Alias("blocked-alias.test", "doubleclick.net"),
	testkit.Alias("loop-a.test", "loop-b.test"),
	testkit.Alias("loop-b.test", "loop-a.test"),
	testkit.Alias("bad-alias.test", "not a name"),
	testkit.RewriteV4("192.0.2.0/24", "198.51.100.1"),
	testkit.RewriteV4("192.0.2.53", "198.51.100.53"),
	testkit.RewriteV6("2001:DB8:0:0::53", "2001:db8::99"),
	testkit.BlockRegex("(unclosed"),
)

// decisionCorefile: sqlitefilter with a block upstream, cache, then forward.
func decisionCorefile(db, upstream, blockUpstream string, options ...string) string {
	opts := append([]string{"block_upstream " + blockUpstream}, options...)
	return fmt.Sprintf(`.:{PORT} {
    bind 127.0.0.1
    prometheus 127.0.0.1:{METRICS}
    sqlitefilter %s {
        %s
    }
    cache
    forward . %s
}
`, db, strings.Join(opts, "\n        "), upstream)
}

// startDecisionServer starts the server and waits until the regex set and
// the rewrites are loaded (they are built in the background).
func startDecisionServer(t *testing.T, db, upstream, blockUpstream string, options ...string) (*server, string) {
	t.Helper()
	metrics := testkit.FreePort(t)
	srv := startServer(t, strings.ReplaceAll(decisionCorefile(db, upstream, blockUpstream, options...), "{METRICS}", fmt.Sprint(metrics)))
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", metrics)
	if !testkit.Poll(20*time.Second, func() bool { return strings.Contains(srv.Output(), "regex patterns") }) {
		t.Fatalf("in-memory rules not loaded:\n%s", srv.Output())
	}
	return srv, metricsAddr
}

func TestDecisionEndToEnd(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	blockUp := testkit.StartUpstream(t, upstreamRecipe)
	db := testkit.NewDB(t, schema.PerType, "wal", decisionRows...)
	srv, _ := startDecisionServer(t, db, up.Addr, blockUp.Addr)

	// %[1]s in a name is the protocol, so the TCP round is not answered
	// from the cache filled by the UDP round.
	tests := []struct {
		name    string
		qname   string
		qtype   uint16
		rcode   int
		answer  []string
		fromUp  bool // the normal upstream is asked
		fromBlk bool // the block upstream is asked
	}{
		{"allow under a wildcard block", "%[1]s.good.doubleclick.net.", dns.TypeAAAA, dns.RcodeSuccess,
			[]string{"%[1]s.good.doubleclick.net.\t300\tIN\tAAAA\t2001:db8::99"}, true, false},
		{"wildcard block", "%[1]s.doubleclick.net.", dns.TypeA, dns.RcodeSuccess,
			[]string{"%[1]s.doubleclick.net.\t60\tIN\tA\t0.0.0.0"}, false, false},
		{"block under an allowed parent: allow wins", "ads.%[1]s.allowed.test.", dns.TypeA, dns.RcodeSuccess,
			[]string{"ads.%[1]s.allowed.test.\t300\tIN\tA\t198.51.100.53"}, true, false},
		{"regex block", "ads12.%[1]s.test.", dns.TypeA, dns.RcodeSuccess,
			[]string{"ads12.%[1]s.test.\t60\tIN\tA\t0.0.0.0"}, false, false},
		{"regex miss", "myads.%[1]s.test.", dns.TypeMX, dns.RcodeSuccess,
			[]string{"myads.%[1]s.test.\t300\tIN\tMX\t10 mail.upstream.example."}, true, false},
		{"block upstream", "%[1]s.evil.test.", dns.TypeTXT, dns.RcodeSuccess,
			[]string{"%[1]s.evil.test.\t300\tIN\tTXT\t\"upstream\""}, false, true},
		{"alias keeps sub-labels and resolves the target", "%[1]s.intel.test.", dns.TypeA, dns.RcodeSuccess,
			[]string{"%[1]s.intel.test.\t60\tIN\tCNAME\t%[1]s.keweon.test.", "%[1]s.keweon.test.\t300\tIN\tA\t198.51.100.53"}, true, false},
		{"alias qtype CNAME", "%[1]s.intel.test.", dns.TypeCNAME, dns.RcodeSuccess,
			[]string{"%[1]s.intel.test.\t60\tIN\tCNAME\t%[1]s.keweon.test."}, false, false},
		{"alias to a blocked target", "%[1]s.blocked-alias.test.", dns.TypeA, dns.RcodeSuccess,
			[]string{"%[1]s.blocked-alias.test.\t60\tIN\tA\t0.0.0.0"}, false, false},
		{"alias loop", "%[1]s.loop-a.test.", dns.TypeA, dns.RcodeServerFailure, nil, false, false},
		{"alias with a bad target is skipped", "%[1]s.bad-alias.test.", dns.TypeA, dns.RcodeSuccess,
			[]string{"%[1]s.bad-alias.test.\t300\tIN\tA\t198.51.100.53"}, true, false},
	}
	for _, proto := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				qname := fmt.Sprintf(tc.qname, proto)
				var want []string
				for _, a := range tc.answer {
					want = append(want, fmt.Sprintf(a, proto))
				}
				upBefore, blkBefore := len(up.Seen()), len(blockUp.Seen())
				r := query(t, srv.Addr, proto, qname, tc.qtype, true)
				if r.Rcode != tc.rcode {
					t.Fatalf("rcode %s, want %s\n%v", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode], r)
				}
				var got []string
				for _, rr := range r.Answer {
					got = append(got, rr.String())
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("answer\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				if asked := len(up.Seen()) > upBefore; asked != tc.fromUp {
					t.Errorf("normal upstream asked: %t, want %t", asked, tc.fromUp)
				}
				if asked := len(blockUp.Seen()) > blkBefore; asked != tc.fromBlk {
					t.Errorf("block upstream asked: %t, want %t", asked, tc.fromBlk)
				}
			})
		}
	}
}

// TestRewriteOfCachedAnswersEndToEnd: the second answer comes from the
// cache plugin and is rewritten too.
func TestRewriteOfCachedAnswersEndToEnd(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	srv, _ := startDecisionServer(t, testkit.NewDB(t, schema.PerType, "wal", decisionRows...), up.Addr, up.Addr)
	for i := range 2 {
		for _, proto := range []string{"udp", "tcp"} {
			r := query(t, srv.Addr, proto, "cached.example.test.", dns.TypeA, false)
			if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "198.51.100.53" {
				t.Fatalf("query %d over %s: %v, want 198.51.100.53", i+1, proto, r.Answer)
			}
		}
	}
	n := 0
	for _, q := range up.Seen() {
		if q.Name == "cached.example.test." {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("upstream asked %d times, want once (then the cache answers)", n)
	}
}

func TestBlockUpstreamUnreachableIsServfailEndToEnd(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	dead := testkit.DeadAddr(t)
	srv, _ := startDecisionServer(t, testkit.NewDB(t, schema.PerType, "wal", decisionRows...), up.Addr, dead)
	for _, proto := range []string{"udp", "tcp"} {
		r := query(t, srv.Addr, proto, "www.evil.test.", dns.TypeA, false)
		if r.Rcode != dns.RcodeServerFailure {
			t.Fatalf("%s: rcode %s, want SERVFAIL\n%v", proto, dns.RcodeToString[r.Rcode], r)
		}
	}
	if up.Asked("www.evil.test.") {
		t.Fatal("the normal upstream was asked: a block upstream never falls back")
	}
}

func TestBlockModesEndToEnd(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	db := testkit.NewDB(t, schema.PerType, "wal", decisionRows...)
	tests := []struct {
		mode  string
		qtype uint16
		rcode int
		soa   bool
	}{
		{"refused", dns.TypeA, dns.RcodeRefused, false},
		{"nxdomain", dns.TypeHTTPS, dns.RcodeNameError, true},
		{"nodata", dns.TypeA, dns.RcodeSuccess, true},
	}
	for _, tc := range tests {
		srv, _ := startDecisionServer(t, db, up.Addr, up.Addr, "block_response "+tc.mode)
		for _, proto := range []string{"udp", "tcp"} {
			r := query(t, srv.Addr, proto, "x.doubleclick.net.", tc.qtype, true)
			if r.Rcode != tc.rcode || len(r.Answer) != 0 || (len(r.Ns) == 1) != tc.soa {
				t.Errorf("%s %s over %s: %v", tc.mode, dns.TypeToString[tc.qtype], proto, r)
			}
			checkEDE(t, r, true, dns.ExtendedErrorCodeBlocked)
		}
	}
	if up.Asked("x.doubleclick.net.") {
		t.Fatal("a blocked name reached the upstream")
	}
}

// TestSkippedRowsMetricEndToEnd: the bad regex and the bad alias target are
// counted in rows_skipped_total.
func TestSkippedRowsMetricEndToEnd(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	srv, metrics := startDecisionServer(t, testkit.NewDB(t, schema.PerType, "wal", decisionRows...), up.Addr, up.Addr)
	query(t, srv.Addr, "udp", "bad-alias.test.", dns.TypeA, false)
	body := scrape(t, metrics)
	for _, want := range []string{
		`coredns_sqlitefilter_rows_skipped_total{reason="bad_pattern",table="block_regex"} 1`,
		`coredns_sqlitefilter_rows_skipped_total{reason="bad_target",table="domain_alias"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// scrape returns the Prometheus metrics the server exports on addr.
func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}
