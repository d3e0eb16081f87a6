package sqlitefilter

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// conformanceCase is one rule of the decision or of the blocked answers: the
// database rows, the Corefile options, the query, and the exact reply.
type conformanceCase struct {
	name    string
	rows    []testkit.Row
	options string // Corefile block options; {block_up}, {allow_up} and {dead} are replaced by addresses

	qname string
	qtype uint16
	edns  bool
	tcp   bool

	rcode  int
	answer []string // RRs in presentation format, in order
	ns     []string
	ede    int // the Extended DNS Error info code, or noEDE
	// edeText, when set, is the EDE's extra text.
	edeText string
}

const noEDE = -1

// Expected records, written once.
const (
	blockSOA = "blocked.sqlitefilter.invalid. hostmaster.sqlitefilter.invalid. 1 3600 600 86400 60"
	upSOA    = testkit.UpstreamSOA // the fake resolvers' negative answers
)

func soa(owner string) string { return owner + " 60 IN SOA " + blockSOA }

// conformanceCases are the rules of the decision and of the blocked answers,
// each with its exact reply.
func conformanceCases() []conformanceCase {
	cs := []conformanceCase{
		// Pass.
		{name: "no rule passes to the next plugin", qname: "example.org.", qtype: dns.TypeA,
			answer: []string{"example.org. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "no rule keeps the upstream NXDOMAIN", qname: "nx.example.org.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError, ns: []string{upSOA}, ede: noEDE},

		// Block: exact, wildcard, regex.
		{name: "exact block sinkholes A", rows: exact("ads.example.com"), qname: "ads.example.com.", qtype: dns.TypeA,
			answer: []string{"ads.example.com. 60 IN A 0.0.0.0"}, ede: noEDE},
		{name: "exact block carries EDE 15 with EDNS", rows: exact("ads.example.com"), qname: "ads.example.com.", qtype: dns.TypeA, edns: true,
			answer: []string{"ads.example.com. 60 IN A 0.0.0.0"}, ede: int(dns.ExtendedErrorCodeBlocked)},
		{name: "exact block does not reach below the name", rows: exact("ads.example.com"), qname: "x.ads.example.com.", qtype: dns.TypeA,
			answer: []string{"x.ads.example.com. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "a 0x20 query name gets the verdict of its lower case", rows: exact("ads.example.com"), qname: "AdS.ExAmPlE.cOm.", qtype: dns.TypeA,
			answer: []string{"AdS.ExAmPlE.cOm. 60 IN A 0.0.0.0"}, ede: noEDE},
		{name: "wildcard blocks the name itself", rows: wildcard("doubleclick.net"), qname: "doubleclick.net.", qtype: dns.TypeA,
			answer: []string{"doubleclick.net. 60 IN A 0.0.0.0"}, ede: noEDE},
		{name: "wildcard blocks deep names below", rows: wildcard("doubleclick.net"), qname: "a.b.c.doubleclick.net.", qtype: dns.TypeAAAA,
			answer: []string{"a.b.c.doubleclick.net. 60 IN AAAA ::"}, ede: noEDE},
		{name: "wildcard matches whole labels only", rows: wildcard("click.net"), qname: "doubleclick.net.", qtype: dns.TypeA,
			answer: []string{"doubleclick.net. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "regex blocks a matching name", rows: regexRows(`^ads?[0-9]*\.`), qname: "ads12.example.net.", qtype: dns.TypeA,
			answer: []string{"ads12.example.net. 60 IN A 0.0.0.0"}, ede: noEDE},
		{name: "regex is unanchored", rows: regexRows(`track`), qname: "x.tracker.example.net.", qtype: dns.TypeA,
			answer: []string{"x.tracker.example.net. 60 IN A 0.0.0.0"}, ede: noEDE},
		{name: "regex matches the canonical name", rows: regexRows(`^ads\.example\.net$`), qname: "ADS.Example.NET.", qtype: dns.TypeA,
			answer: []string{"ADS.Example.NET. 60 IN A 0.0.0.0"}, ede: noEDE},
		{name: "regex leaves other names alone", rows: regexRows(`^ads?[0-9]*\.`), qname: "myads.example.net.", qtype: dns.TypeA,
			answer: []string{"myads.example.net. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "a regex that does not compile is skipped, the others apply", rows: regexRows(`(unclosed`, `^bad\.`), qname: "bad.example.net.", qtype: dns.TypeA,
			answer: []string{"bad.example.net. 60 IN A 0.0.0.0"}, ede: noEDE},
		{name: "regex and exact both block", rows: rowsOf(exact("ads.example.net"), regexRows(`^ads\.`)), qname: "ads.example.net.", qtype: dns.TypeA,
			answer: []string{"ads.example.net. 60 IN A 0.0.0.0"}, ede: noEDE},

		// Allow.
		{name: "allow under a wildcard block passes", rows: rowsOf(wildcard("doubleclick.net"), allow("good.doubleclick.net")),
			qname: "good.doubleclick.net.", qtype: dns.TypeA, answer: []string{"good.doubleclick.net. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "allow covers names below it", rows: rowsOf(wildcard("doubleclick.net"), allow("good.doubleclick.net")),
			qname: "x.good.doubleclick.net.", qtype: dns.TypeA, answer: []string{"x.good.doubleclick.net. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "allow does not cover siblings", rows: rowsOf(wildcard("doubleclick.net"), allow("good.doubleclick.net")),
			qname: "bad.doubleclick.net.", qtype: dns.TypeA, answer: []string{"bad.doubleclick.net. 60 IN A 0.0.0.0"}, ede: noEDE},
		{name: "block under an allowed parent: allow wins", rows: rowsOf(allow("example.com"), exact("ads.example.com")),
			qname: "ads.example.com.", qtype: dns.TypeA, answer: []string{"ads.example.com. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "allow beats regex", rows: rowsOf(allow("example.com"), regexRows(`^ads\.`)),
			qname: "ads.example.com.", qtype: dns.TypeA, answer: []string{"ads.example.com. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "allow beats block upstream", rows: rowsOf(allow("example.com"), dnsBlock("example.com")), options: "block_upstream {block_up}",
			qname: "www.example.com.", qtype: dns.TypeA, answer: []string{"www.example.com. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "allow goes to the allow upstream", rows: allow("example.com"), options: "allow_upstream {allow_up}",
			qname: "www.example.com.", qtype: dns.TypeA, answer: []string{"www.example.com. 300 IN A 203.0.113.8"}, ede: noEDE},
		{name: "allow goes to the allow upstream over TCP", rows: allow("example.com"), options: "allow_upstream {allow_up}", tcp: true,
			qname: "www.example.com.", qtype: dns.TypeA, answer: []string{"www.example.com. 300 IN A 203.0.113.8"}, ede: noEDE},
		{name: "names not allowed do not go to the allow upstream", rows: allow("example.com"), options: "allow_upstream {allow_up}",
			qname: "www.example.org.", qtype: dns.TypeA, answer: []string{"www.example.org. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "an unreachable allow upstream is SERVFAIL", rows: allow("example.com"), options: "allow_upstream {dead}",
			qname: "www.example.com.", qtype: dns.TypeA, rcode: dns.RcodeServerFailure, ede: noEDE},

		// Block upstream.
		{name: "block upstream without an upstream answers blocked", rows: dnsBlock("evil.com"),
			qname: "www.evil.com.", qtype: dns.TypeA, answer: []string{"www.evil.com. 60 IN A 0.0.0.0"}, ede: noEDE},
		{name: "block upstream sends the query there", rows: dnsBlock("evil.com"), options: "block_upstream {block_up}",
			qname: "www.evil.com.", qtype: dns.TypeA, answer: []string{"www.evil.com. 300 IN A 203.0.113.7"}, ede: noEDE},
		{name: "block upstream over TCP", rows: dnsBlock("evil.com"), options: "block_upstream {block_up}", tcp: true,
			qname: "www.evil.com.", qtype: dns.TypeA, answer: []string{"www.evil.com. 300 IN A 203.0.113.7"}, ede: noEDE},
		{name: "an unreachable block upstream is SERVFAIL, never the normal upstream", rows: dnsBlock("evil.com"), options: "block_upstream {dead}",
			qname: "www.evil.com.", qtype: dns.TypeA, rcode: dns.RcodeServerFailure, ede: noEDE},
		{name: "a block beats the block upstream", rows: rowsOf(exact("www.evil.com"), dnsBlock("evil.com")), options: "block_upstream {block_up}",
			qname: "www.evil.com.", qtype: dns.TypeA, answer: []string{"www.evil.com. 60 IN A 0.0.0.0"}, ede: noEDE},

		// Alias.
		{name: "alias keeps the sub-labels", rows: aliasRow("intel.com", "keweon.center"), qname: "www.intel.com.", qtype: dns.TypeA,
			answer: []string{"www.intel.com. 60 IN CNAME www.keweon.center.", "www.keweon.center. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "alias of the name itself", rows: aliasRow("intel.com", "keweon.center"), qname: "intel.com.", qtype: dns.TypeAAAA,
			answer: []string{"intel.com. 60 IN CNAME keweon.center.", "keweon.center. 300 IN AAAA 2001:db8::1"}, ede: noEDE},
		{name: "alias echoes EDNS without an EDE", rows: aliasRow("intel.com", "keweon.center"), qname: "intel.com.", qtype: dns.TypeA, edns: true,
			answer: []string{"intel.com. 60 IN CNAME keweon.center.", "keweon.center. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "the longest alias suffix wins", rows: rowsOf(aliasRow("intel.com", "a.example"), aliasRow("www.intel.com", "b.example")),
			qname: "x.www.intel.com.", qtype: dns.TypeA,
			answer: []string{"x.www.intel.com. 60 IN CNAME x.b.example.", "x.b.example. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "qtype CNAME gets the CNAME alone", rows: rowsOf(aliasRow("a.test", "b.test"), aliasRow("b.test", "c.test")),
			qname: "a.test.", qtype: dns.TypeCNAME, answer: []string{"a.test. 60 IN CNAME b.test."}, ede: noEDE},
		{name: "alias to a blocked target is blocked", rows: rowsOf(aliasRow("intel.com", "keweon.center"), wildcard("keweon.center")),
			qname: "www.intel.com.", qtype: dns.TypeA, answer: []string{"www.intel.com. 60 IN A 0.0.0.0"}, ede: noEDE},
		{name: "alias to a regex-blocked target is blocked", rows: rowsOf(aliasRow("intel.com", "ads.keweon.center"), regexRows(`^ads\.`)),
			qname: "intel.com.", qtype: dns.TypeA, edns: true, answer: []string{"intel.com. 60 IN A 0.0.0.0"}, ede: int(dns.ExtendedErrorCodeBlocked)},
		{name: "alias to a block-upstream target without upstream is blocked", rows: rowsOf(aliasRow("intel.com", "keweon.center"), dnsBlock("keweon.center")),
			qname: "www.intel.com.", qtype: dns.TypeA, answer: []string{"www.intel.com. 60 IN A 0.0.0.0"}, ede: noEDE},
		{name: "alias to a block-upstream target asks the block upstream", rows: rowsOf(aliasRow("intel.com", "keweon.center"), dnsBlock("keweon.center")),
			options: "block_upstream {block_up}", qname: "www.intel.com.", qtype: dns.TypeA,
			answer: []string{"www.intel.com. 60 IN CNAME www.keweon.center.", "www.keweon.center. 300 IN A 203.0.113.7"}, ede: noEDE},
		{name: "alias to an allowed target asks the allow upstream", rows: rowsOf(aliasRow("intel.com", "keweon.center"), allow("keweon.center")),
			options: "allow_upstream {allow_up}", qname: "www.intel.com.", qtype: dns.TypeA,
			answer: []string{"www.intel.com. 60 IN CNAME www.keweon.center.", "www.keweon.center. 300 IN A 203.0.113.8"}, ede: noEDE},
		{name: "a block beats an alias", rows: rowsOf(aliasRow("intel.com", "keweon.center"), exact("www.intel.com")),
			qname: "www.intel.com.", qtype: dns.TypeA, answer: []string{"www.intel.com. 60 IN A 0.0.0.0"}, ede: noEDE},
		{name: "an allow beats an alias", rows: rowsOf(aliasRow("intel.com", "keweon.center"), allow("www.intel.com")),
			qname: "www.intel.com.", qtype: dns.TypeA, answer: []string{"www.intel.com. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "alias chain is followed", rows: rowsOf(aliasRow("a.test", "b.test"), aliasRow("b.test", "c.test")),
			qname: "www.a.test.", qtype: dns.TypeA,
			answer: []string{"www.a.test. 60 IN CNAME www.b.test.", "www.b.test. 60 IN CNAME www.c.test.", "www.c.test. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "alias chain of 8 is followed", rows: aliasChain(8), qname: "h0.test.", qtype: dns.TypeA,
			answer: append(chainCNAMEs(8), "h8.test. 300 IN A 192.0.2.1"), ede: noEDE},
		{name: "alias chain of 9 is SERVFAIL", rows: aliasChain(9), qname: "h0.test.", qtype: dns.TypeA,
			rcode: dns.RcodeServerFailure, ede: noEDE},
		{name: "alias loop is SERVFAIL", rows: rowsOf(aliasRow("a.test", "b.test"), aliasRow("b.test", "a.test")),
			qname: "a.test.", qtype: dns.TypeA, rcode: dns.RcodeServerFailure, ede: noEDE},
		{name: "alias to itself is SERVFAIL", rows: aliasRow("a.test", "a.test"), qname: "x.a.test.", qtype: dns.TypeA,
			rcode: dns.RcodeServerFailure, ede: noEDE},
		{name: "alias to a target that does not exist keeps the NXDOMAIN", rows: aliasRow("old.test", "nx.test"),
			qname: "old.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError,
			answer: []string{"old.test. 60 IN CNAME nx.test."}, ns: []string{upSOA}, ede: noEDE},
		{name: "alias with an invalid target is skipped, a shorter one applies", rows: rowsOf(aliasRow("www.intel.com", "not a name!"), aliasRow("intel.com", "keweon.center")),
			qname: "www.intel.com.", qtype: dns.TypeA,
			answer: []string{"www.intel.com. 60 IN CNAME www.keweon.center.", "www.keweon.center. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "alias with an invalid target is skipped", rows: aliasRow("intel.com", "bad..target"),
			qname: "intel.com.", qtype: dns.TypeA, answer: []string{"intel.com. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "alias target rows are canonicalised", rows: aliasRow("intel.com", "Keweon.Center."),
			qname: "intel.com.", qtype: dns.TypeA, answer: []string{"intel.com. 60 IN CNAME keweon.center.", "keweon.center. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "alias answer addresses are rewritten once", rows: rowsOf(aliasRow("intel.com", "keweon.center"), rewrite4("192.0.2.1", "198.51.100.1"), rewrite4("198.51.100.1", "198.51.100.2")),
			qname: "intel.com.", qtype: dns.TypeA, answer: []string{"intel.com. 60 IN CNAME keweon.center.", "keweon.center. 300 IN A 198.51.100.1"}, ede: noEDE},

		// Address rewrite.
		{name: "IPv4 rewrite", rows: rewrite4("192.0.2.1", "198.51.100.1"), qname: "example.org.", qtype: dns.TypeA,
			answer: []string{"example.org. 300 IN A 198.51.100.1"}, ede: noEDE},
		{name: "IPv4 rewrite of the allow upstream's answer", rows: rowsOf(allow("example.com"), rewrite4("203.0.113.8", "198.51.100.8")), options: "allow_upstream {allow_up}",
			qname: "example.com.", qtype: dns.TypeA, answer: []string{"example.com. 300 IN A 198.51.100.8"}, ede: noEDE},
		{name: "IPv4 rewrite of the block upstream's answer", rows: rowsOf(dnsBlock("evil.com"), rewrite4("203.0.113.7", "198.51.100.7")), options: "block_upstream {block_up}",
			qname: "evil.com.", qtype: dns.TypeA, answer: []string{"evil.com. 300 IN A 198.51.100.7"}, ede: noEDE},
		{name: "IPv6 rewrite, source compressed upper case", rows: rewrite6("2001:DB8::1", "2001:db8::99"), qname: "example.org.", qtype: dns.TypeAAAA,
			answer: []string{"example.org. 300 IN AAAA 2001:db8::99"}, ede: noEDE},
		{name: "IPv6 rewrite, source fully expanded", rows: rewrite6("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::99"), qname: "example.org.", qtype: dns.TypeAAAA,
			answer: []string{"example.org. 300 IN AAAA 2001:db8::99"}, ede: noEDE},
		{name: "IPv6 rewrite, source with zero groups", rows: rewrite6("2001:db8:0:0:0:0:0:1", "2001:DB8:0:0::99"), qname: "example.org.", qtype: dns.TypeAAAA,
			answer: []string{"example.org. 300 IN AAAA 2001:db8::99"}, ede: noEDE},
		{name: "rewrite to the wrong family is skipped", rows: rewrite4("192.0.2.1", "2001:db8::99"), qname: "example.org.", qtype: dns.TypeA,
			answer: []string{"example.org. 300 IN A 192.0.2.1"}, ede: noEDE},
		{name: "rewrite with an address that does not parse is skipped", rows: rowsOf(rewrite4("192.0.2.300", "198.51.100.1"), rewrite4("192.0.2.1", "198.51.100.2")),
			qname: "example.org.", qtype: dns.TypeA, answer: []string{"example.org. 300 IN A 198.51.100.2"}, ede: noEDE},
		{name: "a blocked answer is not rewritten", rows: rowsOf(exact("ads.example.com"), rewrite4("0.0.0.0", "198.51.100.1")),
			qname: "ads.example.com.", qtype: dns.TypeA, answer: []string{"ads.example.com. 60 IN A 0.0.0.0"}, ede: noEDE},
	}
	for _, c := range []struct{ qname, want string }{
		{"a.rw.test.", "192.0.2.32"}, // exact row first
		{"b.rw.test.", "192.0.2.16"}, // 10.1.0.0/16 over 10.0.0.0/8
		{"c.rw.test.", "192.0.2.8"},  // 10.0.0.0/8
		{"d.rw.test.", "11.0.0.1"},   // no row
	} {
		cs = append(cs, conformanceCase{
			name:  "CIDR rewrite by longest prefix " + c.qname,
			rows:  rowsOf(rewrite4("10.0.0.0/8", "192.0.2.8"), rewrite4("10.1.0.0/16", "192.0.2.16"), rewrite4("10.1.2.3", "192.0.2.32")),
			qname: c.qname, qtype: dns.TypeA, answer: []string{c.qname + " 300 IN A " + c.want}, ede: noEDE,
		})
	}
	cs = append(cs, blockModeCases()...)
	return append(cs, answerCases()...)
}

// blockModeCases are the blocked answers for every block response, qtype
// and EDNS or not: HTTPS, SVCB, ANY and the rest never carry upstream data.
func blockModeCases() []conformanceCase {
	types := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeHTTPS, dns.TypeSVCB, dns.TypeANY, dns.TypeTXT, dns.TypeMX, dns.TypeCNAME, dns.TypeNS}
	var cs []conformanceCase
	for _, mode := range []string{"sinkhole", "nxdomain", "nodata", "refused"} {
		for _, qt := range types {
			for _, edns := range []bool{false, true} {
				c := conformanceCase{
					name:    fmt.Sprintf("block_response %s %s edns=%t", mode, dns.TypeToString[qt], edns),
					rows:    wildcard("blocked.test"),
					options: "block_response " + mode,
					qname:   "www.blocked.test.", qtype: qt, edns: edns, ede: noEDE,
				}
				if edns {
					c.ede = int(dns.ExtendedErrorCodeBlocked)
				}
				switch {
				case mode == "refused":
					c.rcode = dns.RcodeRefused
				case mode == "nxdomain":
					c.rcode, c.ns = dns.RcodeNameError, []string{soa(c.qname)}
				case mode == "sinkhole" && qt == dns.TypeA:
					c.answer = []string{c.qname + " 60 IN A 0.0.0.0"}
				case mode == "sinkhole" && qt == dns.TypeAAAA:
					c.answer = []string{c.qname + " 60 IN AAAA ::"}
				default:
					c.ns = []string{soa(c.qname)}
				}
				cs = append(cs, c)
			}
		}
	}
	custom := "block_ipv4 192.0.2.99\nblock_ipv6 2001:db8::99\nblock_ttl 900"
	return append(cs,
		conformanceCase{name: "custom block IPv4 and TTL", rows: exact("ads.test"), options: custom, qname: "ads.test.", qtype: dns.TypeA,
			answer: []string{"ads.test. 900 IN A 192.0.2.99"}, ede: noEDE},
		conformanceCase{name: "custom block IPv6 and TTL", rows: exact("ads.test"), options: custom, qname: "ads.test.", qtype: dns.TypeAAAA,
			answer: []string{"ads.test. 900 IN AAAA 2001:db8::99"}, ede: noEDE},
		conformanceCase{name: "custom TTL in the SOA", rows: exact("ads.test"), options: custom, qname: "ads.test.", qtype: dns.TypeTXT,
			ns: []string{"ads.test. 900 IN SOA blocked.sqlitefilter.invalid. hostmaster.sqlitefilter.invalid. 1 3600 600 86400 900"}, ede: noEDE},
	)
}

// aliasChain is h0.test → h1.test → … → hn.test.
func aliasChain(n int) []testkit.Row {
	var rows []testkit.Row
	for i := range n {
		rows = append(rows, aliasRow(fmt.Sprintf("h%d.test", i), fmt.Sprintf("h%d.test", i+1))...)
	}
	return rows
}

func chainCNAMEs(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("h%d.test. 60 IN CNAME h%d.test.", i, i+1))
	}
	return out
}

// runConformance runs every case against databases of layout, split into
// shards files when shards is not 0.
func runConformance(t *testing.T, layout schema.Layout, shards int) {
	blockUp := testkit.StartUpstream(t, recipe("203.0.113.7"))
	allowUp := testkit.StartUpstream(t, recipe("203.0.113.8"))
	dead := testkit.DeadAddr(t)
	for _, tc := range conformanceCases() {
		t.Run(tc.name, func(t *testing.T) {
			opts := strings.NewReplacer("{block_up}", blockUp.Addr, "{allow_up}", allowUp.Addr, "{dead}", dead).Replace(tc.options)
			path := testkit.NewDB(t, layout, "wal", tc.rows...)
			if shards > 0 {
				path = splitShards(t, path, shards)
			}
			c := newChain(t, path, opts, false)
			m := new(dns.Msg)
			m.SetQuestion(tc.qname, tc.qtype)
			if tc.edns {
				m.SetEdns0(1232, false)
			}
			if err := checkReply(c.query(m, tc.tcp), tc); err != nil {
				t.Error(err)
			}
		})
	}
}

// checkReply compares a reply with the case. test.SortAndCheck compares the
// rcode, the number of records in each section (the OPT of an EDNS query
// echoed in the additional section) and their data; on top of it every
// answer and authority record must be exactly the one expected, in order
// (TTLs, every field of a SOA, a CNAME before its target's records), and
// the EDE must be the case's.
func checkReply(got *dns.Msg, tc conformanceCase) error {
	if got == nil {
		return fmt.Errorf("no reply")
	}
	want := test.Case{Qname: tc.qname, Qtype: tc.qtype, Rcode: tc.rcode}
	var err error
	if want.Answer, err = parseRRs(tc.answer); err != nil {
		return err
	}
	if want.Ns, err = parseRRs(tc.ns); err != nil {
		return err
	}
	if tc.edns {
		want.Extra = []dns.RR{test.OPT(1232, false)}
	}
	// SortAndCheck compares records in sorted order and sorts the reply:
	// it gets sorted copies, the reply stays in the order it came in.
	sort.Sort(test.RRSet(want.Answer))
	sort.Sort(test.RRSet(want.Ns))
	if err := test.SortAndCheck(got.Copy(), want); err != nil {
		return fmt.Errorf("%w\n%v", err, got)
	}
	if err := checkSection("answer", got.Answer, tc.answer); err != nil {
		return fmt.Errorf("%w\n%v", err, got)
	}
	if err := checkSection("authority", got.Ns, tc.ns); err != nil {
		return fmt.Errorf("%w\n%v", err, got)
	}
	ede, text := noEDE, ""
	if opt := got.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				ede, text = int(e.InfoCode), e.ExtraText
			}
		}
	}
	if ede != tc.ede {
		return fmt.Errorf("EDE %d, want %d", ede, tc.ede)
	}
	if tc.edeText != "" && text != tc.edeText {
		return fmt.Errorf("EDE text %q, want %q", text, tc.edeText)
	}
	return nil
}

func parseRRs(records []string) ([]dns.RR, error) {
	var out []dns.RR
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			return nil, fmt.Errorf("bad expected record %q: %v", s, err)
		}
		out = append(out, rr)
	}
	return out, nil
}

// checkSection compares a section record by record, in order, in
// presentation format.
func checkSection(name string, got []dns.RR, want []string) error {
	if len(got) != len(want) {
		return fmt.Errorf("%s has %d records, want %d: %v", name, len(got), len(want), want)
	}
	for i, w := range want {
		rr, err := dns.NewRR(w)
		if err != nil {
			return fmt.Errorf("bad expected record %q: %v", w, err)
		}
		if got[i].String() != rr.String() {
			return fmt.Errorf("%s[%d] = %q, want %q", name, i, got[i].String(), rr.String())
		}
	}
	return nil
}

func TestConformancePerTypeLayout(t *testing.T) {
	runConformance(t, schema.PerType, 0)
}

func TestConformanceNormalizedLayout(t *testing.T) {
	runConformance(t, schema.Normalized, 0)
}
