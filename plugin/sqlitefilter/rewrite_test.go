package sqlitefilter

import (
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/rules"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// TestAnswerWriterCopiesTheMessage: the message handed to WriteMsg may be
// the cache's own copy; it must come out unchanged.
func TestAnswerWriterCopiesTheMessage(t *testing.T) {
	b := rules.NewAddrRewritesBuilder()
	b.Add(schema.RewriteV4, "192.0.2.1", "198.51.100.1")
	b.Add(schema.RewriteV6, "2001:db8::1", "2001:db8::99")
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	w := &answerWriter{ResponseWriter: rec, rw: b.Build()}
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
