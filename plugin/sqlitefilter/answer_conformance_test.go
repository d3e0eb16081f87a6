package sqlitefilter

import (
	"fmt"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
)

var (
	blockIP4 = testkit.BlockIPv4
	blockIP6 = testkit.BlockIPv6
)

// chainLengths are the CNAME chains the fake resolvers serve:
// nN-0.cloak.test → nN-1.cloak.test → … → nN-N.cloak.test.
var chainLengths = []int{1, 2, 8}

func chainName(n, i int) string { return fmt.Sprintf("n%d-%d.cloak.test", n, i) }

// addAnswerRecipe gives the fake resolvers the chains, DNAME and SVCB
// records of answerCases.
func addAnswerRecipe(rc *testkit.Recipe) {
	for _, n := range chainLengths {
		for i := range n {
			rc.CNAME[chainName(n, i)+"."] = chainName(n, i+1) + "."
		}
	}
	rc.CNAME["metrics.shop.test."] = "shop.tracker-cdn.test."
	rc.DNAME["dname.test."] = "tracker-cdn.test."
	rc.ByName["svc.https.test."] = map[uint16]string{dns.TypeHTTPS: "1 edge.tracker-cdn.test. alpn=h2", dns.TypeSVCB: "1 edge.tracker-cdn.test. alpn=h2"}
	rc.ByName["alias.https.test."] = map[uint16]string{dns.TypeHTTPS: "0 tracker-cdn.test."}
	rc.ByName["hint.https.test."] = map[uint16]string{dns.TypeHTTPS: "1 . alpn=h2 ipv4hint=192.0.2.66 ipv6hint=2001:db8::66"}
	rc.ByName["ip.test."] = map[uint16]string{dns.TypeA: "198.18.0.66", dns.TypeAAAA: "2001:db8:66::1"}
}

// chainAnswer is the answer for nN-0.cloak.test from a resolver whose A
// address is a.
func chainAnswer(n int, a string) []string {
	var out []string
	for i := range n {
		out = append(out, chainName(n, i)+". 300 IN CNAME "+chainName(n, i+1)+".")
	}
	return append(out, chainName(n, n)+". 300 IN A "+a)
}

// blockedAs makes c expect the blocked answer of block_response mode for
// its query, with EDE 15 when it has EDNS.
func blockedAs(c conformanceCase, mode string) conformanceCase {
	c.ede, c.rcode, c.answer, c.ns = noEDE, dns.RcodeSuccess, nil, nil
	if c.edns {
		c.ede = int(dns.ExtendedErrorCodeBlocked)
	}
	switch {
	case mode == "refused":
		c.rcode = dns.RcodeRefused
	case mode == "nxdomain":
		c.rcode, c.ns = dns.RcodeNameError, []string{soa(c.qname)}
	case mode == "sinkhole" && c.qtype == dns.TypeA:
		c.answer = []string{c.qname + " 60 IN A 0.0.0.0"}
	case mode == "sinkhole" && c.qtype == dns.TypeAAAA:
		c.answer = []string{c.qname + " 60 IN AAAA ::"}
	default:
		c.ns = []string{soa(c.qname)}
	}
	return c
}

func blocked(c conformanceCase) conformanceCase { return blockedAs(c, "sinkhole") }

// answerCases are the checks of the answers: the names of the CNAME and
// DNAME chain and SVCB targets decided like query names, the blocked
// answer addresses, and the rewritten hints.
func answerCases() []conformanceCase {
	var cs []conformanceCase
	for _, n := range chainLengths {
		q := chainName(n, 0) + "."
		cs = append(cs, conformanceCase{name: fmt.Sprintf("a chain of %d CNAMEs with no blocked name passes", n),
			qname: q, qtype: dns.TypeA, answer: chainAnswer(n, "192.0.2.1"), ede: noEDE})
		for k := 0; k <= n; k++ {
			c := conformanceCase{name: fmt.Sprintf("a chain of %d CNAMEs blocked at name %d", n, k),
				rows: exact(chainName(n, k)), qname: q, qtype: dns.TypeA, edns: k%2 == 1, tcp: k == 2}
			if k > 0 && c.edns {
				c.edeText = chainName(n, k)
			}
			cs = append(cs, blocked(c))
		}
	}
	shop := "metrics.shop.test."
	shopChain := []string{shop + " 300 IN CNAME shop.tracker-cdn.test.", "shop.tracker-cdn.test. 300 IN A 192.0.2.1"}
	tracker := wildcard("tracker-cdn.test")
	cs = append(cs,
		blocked(conformanceCase{name: "CNAME cloaking: a target under a wildcard block blocks the query", rows: tracker,
			qname: shop, qtype: dns.TypeA, edns: true, edeText: "shop.tracker-cdn.test"}),
		blocked(conformanceCase{name: "CNAME cloaking: a regex-blocked target blocks the query", rows: regexRows(`^shop\.tracker`),
			qname: shop, qtype: dns.TypeAAAA, edns: true, edeText: "shop.tracker-cdn.test"}),
		conformanceCase{name: "CNAME cloaking: an allowed query name is not checked", rows: rowsOf(tracker, allow("shop.test")),
			qname: shop, qtype: dns.TypeA, answer: shopChain, ede: noEDE},
		conformanceCase{name: "CNAME cloaking: an allowed chain target is not blocked", rows: rowsOf(tracker, allow("shop.tracker-cdn.test")),
			qname: shop, qtype: dns.TypeA, answer: shopChain, ede: noEDE},
		blocked(conformanceCase{name: "CNAME cloaking: a block-upstream target without upstream is blocked", rows: dnsBlock("tracker-cdn.test"),
			qname: shop, qtype: dns.TypeA, edns: true, edeText: "shop.tracker-cdn.test"}),
		conformanceCase{name: "CNAME cloaking: a block-upstream target sends the query to the block upstream", rows: dnsBlock("tracker-cdn.test"),
			options: "block_upstream {block_up}", qname: shop, qtype: dns.TypeA,
			answer: []string{shop + " 300 IN CNAME shop.tracker-cdn.test.", "shop.tracker-cdn.test. 300 IN A 203.0.113.7"}, ede: noEDE},
		blocked(conformanceCase{name: "CNAME cloaking: an alias target's answer is checked too", rows: rowsOf(aliasRow("intel.test", "metrics.shop.test"), tracker),
			qname: "intel.test.", qtype: dns.TypeA, edns: true, edeText: "shop.tracker-cdn.test"}),
		conformanceCase{name: "CNAME cloaking: an alias target's clean chain passes", rows: aliasRow("intel.test", "metrics.shop.test"),
			qname: "intel.test.", qtype: dns.TypeA, answer: append([]string{"intel.test. 60 IN CNAME metrics.shop.test."}, shopChain...), ede: noEDE},
		conformanceCase{name: "CNAME cloaking: answer_check off passes the chain", rows: tracker, options: "answer_check off",
			qname: shop, qtype: dns.TypeA, answer: shopChain, ede: noEDE},

		// DNAME.
		conformanceCase{name: "a DNAME chain with no blocked name passes", qname: "x.dname.test.", qtype: dns.TypeA, ede: noEDE,
			answer: []string{"dname.test. 300 IN DNAME tracker-cdn.test.", "x.dname.test. 300 IN CNAME x.tracker-cdn.test.", "x.tracker-cdn.test. 300 IN A 192.0.2.1"}},
		blocked(conformanceCase{name: "a DNAME to a blocked name blocks the query", rows: tracker, qname: "x.dname.test.", qtype: dns.TypeA,
			edns: true, edeText: "tracker-cdn.test"}),
		blocked(conformanceCase{name: "a DNAME's synthesised target is decided", rows: exact("x.tracker-cdn.test"), qname: "x.dname.test.", qtype: dns.TypeA,
			edns: true, edeText: "x.tracker-cdn.test"}),

		// SVCB and HTTPS target names.
		conformanceCase{name: "an HTTPS target that is not blocked passes", qname: "svc.https.test.", qtype: dns.TypeHTTPS, ede: noEDE,
			answer: []string{"svc.https.test. 300 IN HTTPS 1 edge.tracker-cdn.test. alpn=h2"}},
		blocked(conformanceCase{name: "an HTTPS service target that is blocked blocks the query", rows: tracker, qname: "svc.https.test.", qtype: dns.TypeHTTPS,
			edns: true, edeText: "edge.tracker-cdn.test"}),
		blocked(conformanceCase{name: "an SVCB target that is blocked blocks the query", rows: tracker, qname: "svc.https.test.", qtype: dns.TypeSVCB,
			edns: true, edeText: "edge.tracker-cdn.test"}),
		blocked(conformanceCase{name: "an HTTPS alias-mode target that is blocked blocks the query", rows: tracker, qname: "alias.https.test.", qtype: dns.TypeHTTPS,
			edns: true, edeText: "tracker-cdn.test"}),
		conformanceCase{name: "an HTTPS target \".\" is the owner, not checked again", rows: exact("hint.https.test.x"), qname: "hint.https.test.", qtype: dns.TypeHTTPS, ede: noEDE,
			answer: []string{"hint.https.test. 300 IN HTTPS 1 . alpn=h2 ipv4hint=192.0.2.66 ipv6hint=2001:db8::66"}},

		// Blocked answer addresses.
		blocked(conformanceCase{name: "block_ip_v4 exact", rows: blockIP4("198.18.0.66"), qname: "ip.test.", qtype: dns.TypeA, edns: true, edeText: "198.18.0.66"}),
		blocked(conformanceCase{name: "block_ip_v4 CIDR", rows: blockIP4("198.18.0.0/15"), qname: "ip.test.", qtype: dns.TypeA, tcp: true}),
		conformanceCase{name: "block_ip_v4 CIDR that does not hold the address passes", rows: blockIP4("198.18.1.0/24"), qname: "ip.test.", qtype: dns.TypeA,
			answer: []string{"ip.test. 300 IN A 198.18.0.66"}, ede: noEDE},
		blocked(conformanceCase{name: "block_ip_v6 exact in another text form", rows: blockIP6("2001:DB8:66:0:0::1"), qname: "ip.test.", qtype: dns.TypeAAAA, edns: true, edeText: "2001:db8:66::1"}),
		blocked(conformanceCase{name: "block_ip_v6 CIDR", rows: blockIP6("2001:db8:66::/48"), qname: "ip.test.", qtype: dns.TypeAAAA}),
		conformanceCase{name: "block_ip_v6 CIDR that does not hold the address passes", rows: blockIP6("2001:db8:67::/48"), qname: "ip.test.", qtype: dns.TypeAAAA,
			answer: []string{"ip.test. 300 IN AAAA 2001:db8:66::1"}, ede: noEDE},
		blocked(conformanceCase{name: "block_ip at the end of a CNAME chain", rows: blockIP4("192.0.2.1"), qname: chainName(2, 0) + ".", qtype: dns.TypeA, edns: true, edeText: "192.0.2.1"}),
		blocked(conformanceCase{name: "block_ip_v4 matches an HTTPS ipv4hint", rows: blockIP4("192.0.2.66"), qname: "hint.https.test.", qtype: dns.TypeHTTPS, edns: true, edeText: "192.0.2.66"}),
		blocked(conformanceCase{name: "block_ip_v6 matches an HTTPS ipv6hint", rows: blockIP6("2001:db8::/32"), qname: "hint.https.test.", qtype: dns.TypeHTTPS, edns: true, edeText: "2001:db8::66"}),
		blocked(conformanceCase{name: "block_ip is checked before the rewrite", rows: rowsOf(rewrite4("198.18.0.66", "198.51.100.1"), blockIP4("198.18.0.66")),
			qname: "ip.test.", qtype: dns.TypeA}),
		conformanceCase{name: "block_ip does not see the rewritten address", rows: rowsOf(rewrite4("198.18.0.66", "198.51.100.1"), blockIP4("198.51.100.1")),
			qname: "ip.test.", qtype: dns.TypeA, answer: []string{"ip.test. 300 IN A 198.51.100.1"}, ede: noEDE},
		conformanceCase{name: "block_ip does not apply to an allowed name", rows: rowsOf(allow("ip.test"), blockIP4("198.18.0.66")),
			qname: "ip.test.", qtype: dns.TypeA, answer: []string{"ip.test. 300 IN A 198.18.0.66"}, ede: noEDE},
		conformanceCase{name: "block_ip with answer_check off passes", rows: blockIP4("198.18.0.66"), options: "answer_check off",
			qname: "ip.test.", qtype: dns.TypeA, answer: []string{"ip.test. 300 IN A 198.18.0.66"}, ede: noEDE},
		conformanceCase{name: "a block_ip row that does not parse is skipped", rows: blockIP4("198.18.0.666", "2001:db8::1"),
			qname: "ip.test.", qtype: dns.TypeA, answer: []string{"ip.test. 300 IN A 198.18.0.66"}, ede: noEDE},

		// Hints are addresses.
		conformanceCase{name: "ip_rewrite_v4 rewrites an HTTPS ipv4hint", rows: rewrite4("192.0.2.1", "198.51.100.1"), qname: "example.org.", qtype: dns.TypeHTTPS,
			answer: []string{"example.org. 300 IN HTTPS 1 . alpn=h2 ipv4hint=198.51.100.1"}, ede: noEDE},
		conformanceCase{name: "ip_rewrite_v6 rewrites an HTTPS ipv6hint", rows: rewrite6("2001:db8::66", "2001:db8::99"), qname: "hint.https.test.", qtype: dns.TypeHTTPS,
			answer: []string{"hint.https.test. 300 IN HTTPS 1 . alpn=h2 ipv4hint=192.0.2.66 ipv6hint=2001:db8::99"}, ede: noEDE},
		conformanceCase{name: "ip_rewrite_v4 by CIDR rewrites an HTTPS ipv4hint with answer_check off", rows: rewrite4("192.0.2.0/24", "198.51.100.2"),
			options: "answer_check off", qname: "hint.https.test.", qtype: dns.TypeHTTPS,
			answer: []string{"hint.https.test. 300 IN HTTPS 1 . alpn=h2 ipv4hint=198.51.100.2 ipv6hint=2001:db8::66"}, ede: noEDE},
	)
	for _, mode := range []string{"sinkhole", "nxdomain", "nodata", "refused"} {
		for _, edns := range []bool{false, true} {
			for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeHTTPS} {
				cs = append(cs, blockedAs(conformanceCase{name: fmt.Sprintf("CNAME cloaking block_response %s %s edns=%t", mode, dns.TypeToString[qt], edns),
					rows: tracker, options: "block_response " + mode, qname: shop, qtype: qt, edns: edns}, mode))
			}
			cs = append(cs, blockedAs(conformanceCase{name: fmt.Sprintf("block_ip block_response %s edns=%t", mode, edns),
				rows: blockIP6("2001:db8:66::1"), options: "block_response " + mode, qname: "ip.test.", qtype: dns.TypeAAAA, edns: edns}, mode))
		}
	}
	return cs
}
