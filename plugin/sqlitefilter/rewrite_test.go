package sqlitefilter

import (
	"net/netip"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

func TestAddrRewriteRows(t *testing.T) {
	tests := []struct {
		table          schema.Table
		source, target string
		reason         string
	}{
		{schema.RewriteV4, "192.0.2.1", "198.51.100.1", ""},
		{schema.RewriteV4, " 192.0.2.2 ", "198.51.100.2", ""},
		{schema.RewriteV4, "10.0.0.0/8", "198.51.100.8", ""},
		{schema.RewriteV4, "10.9.9.9/8", "198.51.100.9", ReasonDuplicate}, // same prefix once masked
		{schema.RewriteV4, "192.0.2.3/32", "198.51.100.3", ""},
		{schema.RewriteV4, "010.0.0.1", "198.51.100.1", ReasonBadAddress}, // leading zeros are ambiguous
		{schema.RewriteV4, "192.0.2.4", "not an address", ReasonBadAddress},
		{schema.RewriteV4, "192.0.2.5", "10.0.0.0/8", ReasonBadAddress},
		{schema.RewriteV4, "2001:db8::1", "198.51.100.1", ReasonWrongFamily},
		{schema.RewriteV4, "192.0.2.6", "2001:db8::1", ReasonWrongFamily},
		{schema.RewriteV4, "2001:db8::/32", "198.51.100.1", ReasonWrongFamily},
		{schema.RewriteV6, "2001:DB8::1", "2001:db8::99", ""},
		{schema.RewriteV6, "2001:0db8:0:0:0:0:0:1", "2001:db8::98", ReasonDuplicate},
		{schema.RewriteV6, "fe80::1%eth0", "2001:db8::99", ReasonBadAddress},
		{schema.RewriteV6, "192.0.2.1", "2001:db8::99", ReasonWrongFamily},
		{schema.RewriteV6, "::ffff:192.0.2.1", "2001:db8::97", ""},
	}
	b := NewAddrRewritesBuilder()
	for _, tc := range tests {
		if got := b.Add(tc.table, tc.source, tc.target); got != tc.reason {
			t.Errorf("Add(%s, %q, %q) = %q, want %q", tc.table, tc.source, tc.target, got, tc.reason)
		}
	}
	r := b.Build()
	lookups := []struct{ addr, want string }{
		{"192.0.2.1", "198.51.100.1"},
		{"192.0.2.3", "198.51.100.3"},
		{"10.255.0.1", "198.51.100.8"},
		{"11.0.0.1", ""},
		{"2001:db8::1", "2001:db8::99"},
		{"::ffff:192.0.2.1", "2001:db8::97"},
	}
	for _, l := range lookups {
		got, ok := r.Lookup(netip.MustParseAddr(l.addr))
		if (l.want == "") == ok || (ok && got != netip.MustParseAddr(l.want)) {
			t.Errorf("Lookup(%s) = %v, %t; want %q", l.addr, got, ok, l.want)
		}
	}
}

// TestRewriteWriterCopiesTheMessage: the message handed to WriteMsg may be
// the cache's own copy; it must come out unchanged.
func TestRewriteWriterCopiesTheMessage(t *testing.T) {
	b := NewAddrRewritesBuilder()
	b.Add(schema.RewriteV4, "192.0.2.1", "198.51.100.1")
	b.Add(schema.RewriteV6, "2001:db8::1", "2001:db8::99")
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	w := &rewriteWriter{ResponseWriter: rec, rw: b.Build()}
	m := new(dns.Msg)
	m.SetQuestion("example.org.", dns.TypeA)
	m.Answer = []dns.RR{test.A("example.org. 300 IN A 192.0.2.1"), test.AAAA("example.org. 300 IN AAAA 2001:db8::1"),
		test.A("example.org. 300 IN A 192.0.2.2")}
	m.Extra = []dns.RR{test.A("ns.example.org. 300 IN A 192.0.2.1")}
	if err := w.WriteMsg(m); err != nil {
		t.Fatal(err)
	}
	if err := checkSection("answer", rec.Msg.Answer, []string{"example.org. 300 IN A 198.51.100.1",
		"example.org. 300 IN AAAA 2001:db8::99", "example.org. 300 IN A 192.0.2.2"}); err != nil {
		t.Fatal(err)
	}
	if err := checkSection("additional", rec.Msg.Extra, []string{"ns.example.org. 300 IN A 192.0.2.1"}); err != nil {
		t.Fatalf("only the answer section is rewritten: %v", err)
	}
	if got := m.Answer[0].(*dns.A).A.String(); got != "192.0.2.1" {
		t.Fatalf("the original message was changed: %s", got)
	}
}
