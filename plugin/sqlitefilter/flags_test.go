package sqlitefilter

import (
	"context"
	"testing"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// questionOf is a query for name, type and class.
func questionOf(name string, qtype, qclass uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Question[0].Qclass = qclass
	return m
}

// TestClassANYIsDecided: a class ANY query for a blocked name gets the
// blocked answer, in class IN, without the next plugin; CHAOS and HESIOD
// pass unchanged.
func TestClassANYIsDecided(t *testing.T) {
	c := newChain(t, testkit.NewDB(t, schema.PerType, "wal", exact("ads.example.com")...), "", false)
	r := c.query(questionOf("ads.example.com.", dns.TypeA, dns.ClassANY), false)
	if r == nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("class ANY: %v", r)
	}
	if a, ok := r.Answer[0].(*dns.A); !ok || !a.A.IsUnspecified() || a.Hdr.Class != dns.ClassINET {
		t.Errorf("class ANY: answer %v, want the block address in class IN", r.Answer[0])
	}
	if r.Question[0].Qclass != dns.ClassANY {
		t.Errorf("class ANY: question %v, want the query's", r.Question[0])
	}
	if n := c.next.calls.Load(); n != 0 {
		t.Errorf("class ANY: the next plugin was asked %d times", n)
	}
	for _, class := range []uint16{dns.ClassCHAOS, dns.ClassHESIOD} {
		before := c.next.calls.Load()
		c.query(questionOf("ads.example.com.", dns.TypeTXT, class), false)
		if c.next.calls.Load() != before+1 {
			t.Errorf("class %s did not pass to the next plugin", dns.ClassToString[class])
		}
	}
}

// TestRewrittenAnswerLosesADAndItsSignatures: an answer whose address is
// rewritten has AD cleared and no RRSIG of the rewritten RRset; an answer
// passed through unchanged keeps both.
func TestRewrittenAnswerLosesADAndItsSignatures(t *testing.T) {
	c := newChain(t, testkit.NewDB(t, schema.PerType, "wal", rewrite4("192.0.2.1", "198.51.100.1")...), "", false)
	c.next.edit = func(_ dns.ResponseWriter, m *dns.Msg) {
		m.AuthenticatedData = true
		q := m.Question[0].Name
		m.Answer = append(m.Answer,
			test.RRSIG(q+" 300 IN RRSIG A 13 2 300 20300101000000 20200101000000 1 example. c2ln"),
			test.RRSIG(q+" 300 IN RRSIG TXT 13 2 300 20300101000000 20200101000000 1 example. c2ln"))
	}
	r := c.query(queryA("www.example.org."), false)
	if len(r.Answer) != 2 || r.Answer[0].(*dns.A).A.String() != "198.51.100.1" {
		t.Fatalf("rewritten answer: %v", r.Answer)
	}
	if r.AuthenticatedData {
		t.Error("rewritten answer has AD set")
	}
	if sig, ok := r.Answer[1].(*dns.RRSIG); !ok || sig.TypeCovered != dns.TypeTXT {
		t.Errorf("rewritten answer keeps %v, want only the RRSIG of the unchanged TXT RRset", r.Answer[1:])
	}
	r = c.query(queryA("a.rw.test."), false) // 10.1.2.3: no row
	if !r.AuthenticatedData || len(r.Answer) != 3 {
		t.Errorf("unchanged answer: AD %t, %v; want AD and both signatures", r.AuthenticatedData, r.Answer)
	}
}

// TestTruncatedAliasTargetKeepsTC: when the answer for an alias target is
// truncated, the aliased answer is too, so the client asks again over TCP.
func TestTruncatedAliasTargetKeepsTC(t *testing.T) {
	c := newChain(t, testkit.NewDB(t, schema.PerType, "wal", aliasRow("tc-alias.example.com", "tc.up.example")...), "", false)
	c.next.edit = func(w dns.ResponseWriter, m *dns.Msg) {
		if m.Question[0].Name == "tc.up.example." && w.RemoteAddr().Network() == "udp" {
			m.Truncated, m.Answer = true, nil
		}
	}
	r := c.query(queryA("tc-alias.example.com."), false)
	if !r.Truncated {
		t.Errorf("over UDP: %v, want TC", r)
	}
	r = c.query(queryA("tc-alias.example.com."), true)
	if r.Truncated || len(r.Answer) != 2 {
		t.Errorf("over TCP: %v, want the CNAME and the target's address", r)
	}
}

// twoBlocks is a server with two blocks: zone with sqlitefilter before a
// fake next plugin, and other (when not "") with a fake next plugin alone.
func twoBlocks(t *testing.T, path, zone, other string) *dnsserver.Server {
	t.Helper()
	c := newChain(t, path, "", false)
	f := c.f
	cfgs := []*dnsserver.Config{{Zone: zone, Plugin: []plugin.Plugin{
		func(n plugin.Handler) plugin.Handler { f.Next = n; return f },
		func(plugin.Handler) plugin.Handler { return c.next },
	}}}
	if other != "" {
		cfgs = append(cfgs, &dnsserver.Config{Zone: other, Plugin: []plugin.Plugin{
			func(plugin.Handler) plugin.Handler { return &fakeNext{recipe: recipe("192.0.2.1")} },
		}})
	}
	srv, err := dnsserver.NewServer("dns://127.0.0.1:0", cfgs)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// TestAliasIntoAnotherServerBlock: an alias target another server block
// serves is resolved there, and the answer gets this block's address
// rewrites; a target no block serves gets the CNAME alone, NOERROR, for the
// client's resolver to follow.
func TestAliasIntoAnotherServerBlock(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "wal", rowsOf(aliasRow("www.example.org", "www.other.test"), rewrite4("192.0.2.1", "198.51.100.1"))...)
	ask := func(srv *dnsserver.Server) *dns.Msg {
		ctx := context.WithValue(context.Background(), dnsserver.Key{}, srv)
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		srv.ServeDNS(ctx, rec, queryA("www.example.org."))
		return rec.Msg
	}
	r := ask(twoBlocks(t, path, "example.org.", "."))
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 || r.Answer[1].(*dns.A).A.String() != "198.51.100.1" {
		t.Errorf("target in another block: %v, want the CNAME and the rewritten address", r)
	}
	r = ask(twoBlocks(t, path, "example.org.", ""))
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeCNAME {
		t.Errorf("target no block serves: %v, want the CNAME alone, NOERROR", r)
	}
}
