package test

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// answersRecipe is a fake upstream that serves CNAME cloaking: names whose
// answers lead through a CNAME chain, a DNAME and an HTTPS target to the
// tracker's names, and addresses the block_ip rows hold.
func answersRecipe() testkit.Recipe {
	rc := testkit.Recipe{
		Data: map[uint16]string{dns.TypeA: upstreamA, dns.TypeAAAA: "2001:db8::53", dns.TypeHTTPS: "1 . alpn=h2"},
		ByName: map[string]map[uint16]string{
			"svc.example.":   {dns.TypeHTTPS: "1 edge.tracker-cdn.example. alpn=h2"},
			"hint.example.":  {dns.TypeHTTPS: "1 . alpn=h2 ipv4hint=198.18.0.9"},
			"ip.example.":    {dns.TypeA: "198.18.0.66", dns.TypeAAAA: "2001:db8:bad::1"},
			"clean.example.": {dns.TypeA: "192.0.2.80"},
		},
		CNAME: map[string]string{
			"metrics.shop.example.": "shop.tracker-cdn.example.",
			"a.chain.example.":      "b.chain.example.",
			"b.chain.example.":      "c.tracker-cdn.example.",
			"www.shop.example.":     "cdn.shop.example.",
		},
		DNAME: map[string]string{"cloak.example.": "tracker-cdn.example."},
	}
	return rc
}

func TestAnswerChecksEndToEnd(t *testing.T) {
	up := testkit.StartUpstream(t, answersRecipe())
	db := testkit.NewDB(t, schema.Normalized, "wal", testkit.Rows(
		testkit.BlockWildcard("tracker-cdn.example"),
		testkit.BlockIPv4("198.18.0.0/15"),
		testkit.BlockIPv6("2001:db8:bad::/48"),
	)...)
	srv := startServer(t, fmt.Sprintf(`.:{PORT} {
    bind 127.0.0.1
    sqlitefilter %s
    cache 30
    forward . %s
}
`, db, up.Addr))
	off := startServer(t, corefile(db, up.Addr, "answer_check off"))
	tests := []struct {
		qname   string
		qtype   uint16
		blocked string // the EDE text of the blocked answer; "" when it passes
		answers int    // records of the answer that passes
	}{
		{"metrics.shop.example.", dns.TypeA, "shop.tracker-cdn.example", 2},
		{"a.chain.example.", dns.TypeAAAA, "c.tracker-cdn.example", 3},
		{"x.cloak.example.", dns.TypeA, "tracker-cdn.example", 3},
		{"svc.example.", dns.TypeHTTPS, "edge.tracker-cdn.example", 1},
		{"hint.example.", dns.TypeHTTPS, "198.18.0.9", 1},
		{"ip.example.", dns.TypeA, "198.18.0.66", 1},
		{"ip.example.", dns.TypeAAAA, "2001:db8:bad::1", 1},
		{"www.shop.example.", dns.TypeA, "", 2},
		{"clean.example.", dns.TypeA, "", 1},
	}
	for _, proto := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			for round := range 2 { // the second answer comes from the cache, and is checked again
				name := fmt.Sprintf("%s %s %s round %d", proto, tc.qname, dns.TypeToString[tc.qtype], round)
				r := query(t, srv.Addr, proto, tc.qname, tc.qtype, true)
				if r.Rcode != dns.RcodeSuccess {
					t.Errorf("%s: rcode %s", name, dns.RcodeToString[r.Rcode])
					continue
				}
				if tc.blocked == "" {
					if len(r.Answer) != tc.answers || ede(r) != nil {
						t.Errorf("%s: want the upstream's %d records and no EDE, got\n%v", name, tc.answers, r)
					}
					continue
				}
				e := ede(r)
				if e == nil || e.InfoCode != dns.ExtendedErrorCodeBlocked || e.ExtraText != tc.blocked {
					t.Errorf("%s: want EDE 15 %q, got\n%v", name, tc.blocked, r)
				}
				switch tc.qtype {
				case dns.TypeA, dns.TypeAAAA:
					if len(r.Answer) != 1 || !isUnspecified(r.Answer[0]) {
						t.Errorf("%s: want the sinkhole address, got\n%v", name, r)
					}
				default:
					if len(r.Answer) != 0 || len(r.Ns) != 1 {
						t.Errorf("%s: want NODATA with a SOA, got\n%v", name, r)
					}
				}
			}
			if r := query(t, off.Addr, proto, tc.qname, tc.qtype, true); len(r.Answer) != tc.answers {
				t.Errorf("%s %s with answer_check off: want the upstream's %d records, got\n%v", proto, tc.qname, tc.answers, r)
			}
		}
	}
}

func ede(m *dns.Msg) *dns.EDNS0_EDE {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				return e
			}
		}
	}
	return nil
}

func isUnspecified(rr dns.RR) bool {
	switch rr := rr.(type) {
	case *dns.A:
		return rr.A.IsUnspecified()
	case *dns.AAAA:
		return rr.AAAA.IsUnspecified()
	}
	return false
}
