package test

import (
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// TestClassANYBlockedEndToEnd: with forward behind it (which makes CoreDNS
// accept classes other than IN), a class ANY query for a blocked name gets
// the blocked answer and never reaches the upstream, over UDP and TCP.
func TestClassANYBlockedEndToEnd(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	db := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockExact("ads.example.com")...)
	srv := startServer(t, corefile(db, up.Addr))
	for _, proto := range []string{"udp", "tcp"} {
		m := new(dns.Msg).SetQuestion("ads.example.com.", dns.TypeA)
		m.Question[0].Qclass = dns.ClassANY
		r, _, err := (&dns.Client{Net: proto, Timeout: 3 * time.Second}).Exchange(m, srv.Addr)
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || !r.Answer[0].(*dns.A).A.IsUnspecified() || r.Answer[0].Header().Class != dns.ClassINET {
			t.Errorf("%s class ANY: %v, want the block address in class IN", proto, r)
		}
	}
	if up.Asked("ads.example.com.") {
		t.Error("the upstream was asked about the blocked name")
	}
}
