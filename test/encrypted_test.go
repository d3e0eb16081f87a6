package test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// The encrypted transports through the real binary: DNS over TLS, HTTPS
// (HTTP/2 and HTTP/3), QUIC and gRPC server blocks, each with its own
// sqlitefilter stanza on one database, decide as the plain DNS block does,
// for the client the source address names.

// encryptedBlock is one server block of encryptedCorefile: the scheme of
// its key and the port it listens on.
type encryptedBlock struct {
	scheme string
	port   int
}

// encryptedCorefile has a plain block on {PORT} (the harness waits for it)
// and one block per scheme, each with the certificate, the same
// sqlitefilter stanza and ready on one address, so /ready answers 200 only
// once every instance has its database open and its rules built. The zone
// of each key is the root: the bind plugin, not the key, picks the address
// (a key such as tls://127.0.0.1:853 would serve the zone "127.0.0.1.").
func encryptedCorefile(db, upstream, ready, metrics string, cert testCert, extra string, blocks []encryptedBlock) string {
	body := func(tls string) string {
		return fmt.Sprintf(`    bind 127.0.0.1
    %s
    ready %s
    prometheus %s
    sqlitefilter %s
    forward . %s
`, tls, ready, metrics, db, upstream)
	}
	var b strings.Builder
	fmt.Fprintf(&b, ".:{PORT} {\n%s}\n", body(""))
	for _, bl := range blocks {
		fmt.Fprintf(&b, "%s://.:%d {\n%s%s}\n", bl.scheme, bl.port, body("tls "+cert.CertFile+" "+cert.KeyFile), extra)
	}
	return b.String()
}

// groupsDB is a database with the list kids (id 1) and the group kids,
// which holds 127.0.0.1 and has only that list: legacy.test (list default)
// is blocked for every other client, games.test (list kids) for all of
// them.
func groupsDB(t *testing.T) string {
	t.Helper()
	db := testkit.WithLists(t, testkit.NewDB(t, schema.PerType, "wal"),
		"INSERT INTO block_wildcard (Domain) VALUES ('legacy.test')",
		"INSERT INTO sqlitefilter_lists (id, name) VALUES (1, 'kids')",
		"INSERT INTO block_wildcard (Domain, lists) VALUES ('games.test', 2)",
		"INSERT INTO sqlitefilter_groups (name, lists) VALUES ('kids', 2)",
		"INSERT INTO sqlitefilter_group_clients VALUES ('127.0.0.1/32', 'kids')")
	return db
}

// policyCase is one question from one client and the answer it must get.
type policyCase struct {
	from, zone string
	blocked    bool
}

// policyCases: 127.0.0.1 is in the group kids (the list kids only),
// 127.0.0.2 in none (every enabled list).
var policyCases = []policyCase{
	{"127.0.0.1", "legacy.test", false},
	{"127.0.0.1", "games.test", true},
	{"127.0.0.1", "clean.test", false},
	{"127.0.0.2", "legacy.test", true},
	{"127.0.0.2", "games.test", true},
	{"127.0.0.2", "clean.test", false},
}

// checkPolicy sends every policy case over the transport, with a name of
// its own (label.fromN.zone) so the upstream's log tells which reached it,
// and checks the answer: the sinkhole answer with EDE 15 when blocked, the
// upstream's address when not.
func checkPolicy(t *testing.T, label string, exchange exchangeFunc, up *testkit.Upstream) {
	t.Helper()
	for _, tc := range policyCases {
		name := fmt.Sprintf("%s.from%s.%s.", label, tc.from[len(tc.from)-1:], tc.zone)
		m := new(dns.Msg).SetQuestion(name, dns.TypeA)
		m.SetEdns0(1232, false)
		r, err := exchange(tc.from, m)
		if err != nil {
			t.Errorf("%s: %s from %s: %v", label, name, tc.from, err)
			continue
		}
		if tc.blocked {
			checkBlocked(t, label, name, r)
			if up.Asked(name) {
				t.Errorf("%s: blocked %s from %s reached the upstream", label, name, tc.from)
			}
			continue
		}
		a := firstA(r)
		if r.Rcode != dns.RcodeSuccess || a != upstreamA || !up.Asked(name) || blockedEDE(r) {
			t.Errorf("%s: %s from %s = %s %s (asked upstream: %t), want the upstream's %s\n%s",
				label, name, tc.from, dns.RcodeToString[r.Rcode], a, up.Asked(name), upstreamA, r)
		}
	}
}

// checkBlocked checks the default blocked answer to an A query: NOERROR,
// AA, the block address with the block TTL, and EDE 15 "Blocked".
func checkBlocked(t *testing.T, label, name string, r *dns.Msg) {
	t.Helper()
	want := name + "\t60\tIN\tA\t0.0.0.0"
	if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) != 1 || r.Answer[0].String() != want || !blockedEDE(r) {
		t.Errorf("%s: %s got\n%s\nwant NOERROR, AA, %q and EDE 15", label, name, r, want)
	}
}

// firstA is the address of the first A record of r, "none" without one.
func firstA(r *dns.Msg) string {
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	return "none"
}

func blockedEDE(r *dns.Msg) bool {
	opt := r.IsEdns0()
	if opt == nil {
		return false
	}
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_EDE); ok && e.InfoCode == dns.ExtendedErrorCodeBlocked {
			return true
		}
	}
	return false
}

// TestEncryptedTransportsApplyTheSamePolicy: over UDP, DoT, DoH (POST and
// GET on HTTP/2, POST on HTTP/3), DoQ and gRPC, the client at 127.0.0.1
// gets its group's lists and the client at 127.0.0.2 every list: the
// source address of the TLS, HTTP or QUIC connection is the client.
func TestEncryptedTransportsApplyTheSamePolicy(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	db := groupsDB(t)
	cert := newTestCert(t)
	ready := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	blocks := []encryptedBlock{
		{"tls", testkit.FreePort(t)},
		{"https", testkit.FreePort(t)},
		{"https3", testkit.FreePort(t)},
		{"quic", testkit.FreePort(t)},
		{"grpc", testkit.FreePort(t)},
	}
	metrics := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	srv := startServer(t, encryptedCorefile(db, up.Addr, ready, metrics, cert, "", blocks))
	waitReady(t, ready)
	addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", blocks[i].port) }

	transports := []struct {
		label    string
		exchange exchangeFunc
	}{
		{"udp", udpExchange(srv.Addr)},
		{"dot", dotExchange(addr(0), cert, dialFrom)},
		{"dohpost", dohExchange(addr(1), cert, http.MethodPost, dialFrom)},
		{"dohget", dohExchange(addr(1), cert, http.MethodGet, dialFrom)},
		{"doh3", doh3Exchange(addr(2), cert)},
		{"doq", doqExchange(addr(3), cert)},
		{"grpc", grpcExchange(addr(4), cert)},
	}
	for _, tr := range transports {
		t.Run(tr.label, func(t *testing.T) { checkPolicy(t, tr.label, tr.exchange, up) })
	}
	// Each block's instance counts its own queries under its server label:
	// per round, games.test twice (from both clients) and legacy.test once.
	body := scrape(t, metrics)
	for _, bl := range append([]encryptedBlock{{"dns", srv.Port}}, blocks...) {
		rounds := 1
		if bl.scheme == "https" {
			rounds = 2 // POST and GET
		}
		for list, n := range map[string]int{"kids": 2 * rounds, "default": rounds} {
			want := fmt.Sprintf(`coredns_sqlitefilter_requests_total{action="block",list="%s",server="%s://127.0.0.1:%d",view=""} %d`, list, bl.scheme, bl.port, n)
			if !strings.Contains(body, want+"\n") {
				t.Errorf("metrics lack %s:\n%s", want, grepLines(body, "sqlitefilter_requests_total"))
			}
		}
	}
}

// TestProxyProtocolNamesTheClientBehindALoadBalancer: with proxyproto
// trusting 127.0.0.1, a DoT or DoH connection from there that starts with a
// PROXY header is decided for the client the header names; the same header
// from any other source is ignored, so a client cannot pick its group.
func TestProxyProtocolNamesTheClientBehindALoadBalancer(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	db := groupsDB(t)
	cert := newTestCert(t)
	ready := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	blocks := []encryptedBlock{{"tls", testkit.FreePort(t)}, {"https", testkit.FreePort(t)}}
	proxy := "    proxyproto {\n        allow 127.0.0.1/32\n    }\n"
	metrics := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	srv := startServer(t, encryptedCorefile(db, up.Addr, ready, metrics, cert, proxy, blocks))
	waitReady(t, ready)
	addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", blocks[i].port) }

	trusted, untrusted := dialProxied("127.0.0.1"), dialProxied("127.0.0.3")
	checkPolicy(t, "dotproxied", dotExchange(addr(0), cert, trusted), up)
	checkPolicy(t, "dohproxied", dohExchange(addr(1), cert, http.MethodPost, trusted), up)
	for _, tc := range []struct {
		label    string
		exchange exchangeFunc
	}{
		{"dotspoofed", dotExchange(addr(0), cert, untrusted)},
		{"dohspoofed", dohExchange(addr(1), cert, http.MethodPost, untrusted)},
	} {
		label, exchange := tc.label, tc.exchange
		name := label + ".legacy.test."
		m := new(dns.Msg).SetQuestion(name, dns.TypeA)
		m.SetEdns0(1232, false)
		r, err := exchange("127.0.0.1", m)
		if err != nil {
			t.Fatalf("%s: %v\n%s", label, err, srv.Output())
		}
		checkBlocked(t, label, name, r)
	}
}
