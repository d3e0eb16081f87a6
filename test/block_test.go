package test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// corefile is a resolver: sqlitefilter in front of forward to the upstream,
// without cache, so every query that passes reaches the upstream.
func corefile(db, upstream string, options ...string) string {
	block := ""
	if len(options) > 0 {
		block = " {\n        " + strings.Join(options, "\n        ") + "\n    }"
	}
	return fmt.Sprintf(`.:{PORT} {
    bind 127.0.0.1
    sqlitefilter %s%s
    forward . %s
}
`, db, block, upstream)
}

var deepName = strings.Repeat("l.", 98) + "deep.doubleclick.net."

func TestBlockEndToEnd(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	db := testkit.NewDB(t, schema.PerType, "wal", testkit.Rows(
		testkit.BlockExact("ads.example.com"),
		testkit.BlockWildcard("doubleclick.net"),
	)...)
	srv := startServer(t, corefile(db, up.Addr))
	if n := dns.CountLabel(deepName); n != 101 {
		t.Fatalf("deep name has %d labels, want 101", n)
	}

	tests := []struct {
		name    string
		qname   string
		qtype   uint16
		edns    bool
		answer  string // the single answer record, "" for none
		soa     bool   // a SOA in the authority section
		blocked bool
	}{
		{"exact block", "ads.example.com.", dns.TypeA, false, "ads.example.com.\t60\tIN\tA\t0.0.0.0", false, true},
		{"exact is not a wildcard", "sub.ads.example.com.", dns.TypeA, false, "sub.ads.example.com.\t300\tIN\tA\t" + upstreamA, false, false},
		{"wildcard apex", "doubleclick.net.", dns.TypeA, false, "doubleclick.net.\t60\tIN\tA\t0.0.0.0", false, true},
		{"wildcard depth 1", "ad.doubleclick.net.", dns.TypeA, true, "ad.doubleclick.net.\t60\tIN\tA\t0.0.0.0", false, true},
		{"wildcard at 101 labels", deepName, dns.TypeA, false, deepName + "\t60\tIN\tA\t0.0.0.0", false, true},
		{"0x20 mixed case", "Ad.DoubleClick.NeT.", dns.TypeA, false, "Ad.DoubleClick.NeT.\t60\tIN\tA\t0.0.0.0", false, true},
		{"0x20 exact", "ADS.example.COM.", dns.TypeA, true, "ADS.example.COM.\t60\tIN\tA\t0.0.0.0", false, true},
		{"AAAA", "ad.doubleclick.net.", dns.TypeAAAA, false, "ad.doubleclick.net.\t60\tIN\tAAAA\t::", false, true},
		{"MX is NODATA", "ad.doubleclick.net.", dns.TypeMX, true, "", true, true},
		{"HTTPS is NODATA", "ads.example.com.", dns.TypeHTTPS, true, "", true, true},
		{"TXT is NODATA", "x.doubleclick.net.", dns.TypeTXT, false, "", true, true},
		{"not blocked", "www.example.com.", dns.TypeA, false, "www.example.com.\t300\tIN\tA\t" + upstreamA, false, false},
		{"not blocked MX", "www.example.org.", dns.TypeMX, true, "www.example.org.\t300\tIN\tMX\t10 mail.upstream.example.", false, false},
		{"suffix is not a parent", "notdoubleclick.net.", dns.TypeA, false, "notdoubleclick.net.\t300\tIN\tA\t" + upstreamA, false, false},
	}
	for _, proto := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				before := len(up.Seen())
				r := query(t, srv.Addr, proto, tc.qname, tc.qtype, tc.edns)
				if r.Rcode != dns.RcodeSuccess {
					t.Fatalf("rcode %s, want NOERROR", dns.RcodeToString[r.Rcode])
				}
				if r.Question[0].Name != tc.qname {
					t.Errorf("question %q, want %q as sent", r.Question[0].Name, tc.qname)
				}
				switch {
				case tc.answer == "" && len(r.Answer) != 0:
					t.Errorf("answer %v, want none", r.Answer)
				case tc.answer != "" && (len(r.Answer) != 1 || r.Answer[0].String() != tc.answer):
					t.Errorf("answer %v, want %s", r.Answer, tc.answer)
				}
				if gotSOA := len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == dns.TypeSOA; gotSOA != tc.soa {
					t.Errorf("authority %v, want SOA: %v", r.Ns, tc.soa)
				}
				if tc.soa && r.Ns[0].(*dns.SOA).Minttl != 60 {
					t.Errorf("SOA minimum %d, want the block TTL 60", r.Ns[0].(*dns.SOA).Minttl)
				}
				checkEDE(t, r, tc.edns && tc.blocked, dns.ExtendedErrorCodeBlocked)
				asked := false
				for _, q := range up.Seen()[before:] {
					asked = asked || q.Name == tc.qname && q.Qtype == tc.qtype
				}
				if asked == tc.blocked {
					t.Errorf("upstream asked %q: %v, want %v (unchanged, as the client sent it)", tc.qname, asked, !tc.blocked)
				}
			})
		}
	}
}

// checkEDE checks that r carries Extended DNS Error code exactly when want.
func checkEDE(t *testing.T, r *dns.Msg, want bool, code uint16) {
	t.Helper()
	var got []uint16
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				got = append(got, e.InfoCode)
			}
		}
	}
	if want && (len(got) != 1 || got[0] != code) {
		t.Errorf("EDE %v, want [%d]", got, code)
	}
	if !want && len(got) != 0 {
		t.Errorf("EDE %v, want none", got)
	}
}
