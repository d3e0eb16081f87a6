package sqlitefilter

import (
	"encoding/binary"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// The rows of the database FuzzServeDNS serves from. A name is blocked
// exactly when blockedByRows says so, which reads these lists and nothing of
// the plugin's.
var (
	fuzzExact    = []string{"blocked.test", "exact.example.org"}
	fuzzWildcard = []string{"wild.test", "doubleclick.net"}
	fuzzRegex    = []string{`^ads[0-9]*\.`, `track(er|ing)`, `(^|\.)evil\.example$`}
	fuzzPatterns = func() (res []*regexp.Regexp) {
		for _, p := range fuzzRegex {
			res = append(res, regexp.MustCompile(p))
		}
		return res
	}()
	fuzzAllow = []string{"ok.wild.test"}
	// Every name below balias.test is aliased into wild.test, so blocked;
	// alias.test is aliased to a name no row blocks.
	fuzzBlockedAlias = "balias.test"
)

// blockedByRows reports whether the fuzz database blocks the query name:
// no suffix allowed, and the name is an exact row, or a suffix a wildcard
// row, or a pattern matches it, or it is aliased into a wildcard.
func blockedByRows(qname string) bool {
	canonical := strings.TrimSuffix(lowerASCII(qname), ".")
	var suffixes []string
	for _, i := range dns.Split(qname) {
		suffixes = append(suffixes, strings.TrimSuffix(lowerASCII(qname[i:]), "."))
	}
	if slices.ContainsFunc(suffixes, func(s string) bool { return slices.Contains(fuzzAllow, s) }) {
		return false
	}
	if slices.Contains(fuzzExact, canonical) {
		return true
	}
	for _, s := range suffixes {
		if slices.Contains(fuzzWildcard, s) || s == fuzzBlockedAlias {
			return true
		}
	}
	return slices.ContainsFunc(fuzzPatterns, func(p *regexp.Regexp) bool { return p.MatchString(canonical) })
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// upstreamAddrs are the addresses the fake next plugin answers with.
var upstreamAddrs = []string{"192.0.2.1", "2001:db8::1"}

// FuzzServeDNS sends DNS messages through a real CoreDNS server object
// holding the plugin, the cache and a fake next plugin. A message is either
// the fuzzer's bytes or one built from a name, type, class, header bits and
// EDNS options; either way it reaches the plugin only as miekg/dns would
// hand it over: accepted by the server's header check, then unpacked.
//
// Invariants: no panic; every accepted message gets a reply, with the
// query's id and question section, a sane rcode, and which packs; a query of class IN
// or ANY, opcode QUERY, for a name the rows block never reaches the next
// plugin nor carries its addresses, and a sinkholed one with EDNS0 carries
// EDE 15.
func FuzzServeDNS(f *testing.F) {
	rows := rowsOf(exact(fuzzExact...), wildcard(fuzzWildcard...), regexRows(fuzzRegex...), allow(fuzzAllow...),
		aliasRow(fuzzBlockedAlias, "bad.wild.test"), aliasRow("alias.test", "target.example"),
		rewrite4("10.1.0.0/16", "198.51.100.9"))
	c := newChain(f, testkit.NewDB(f, schema.PerType, "wal", rows...), "", true)

	for _, name := range []string{"blocked.test.", "BLOCKED.test.", "x.Wild.Test.", "ok.wild.test.", "a.ok.wild.test.",
		"ads1.example.com.", "www.tracking.example.", "evil.example.", "notevil.example.", "www.balias.test.",
		"www.alias.test.", "a.rw.test.", "nx.example.", "exact.example.org.", "sub.exact.example.org.", `a\.wild.test.`} {
		f.Add([]byte{}, name, dns.TypeA, uint16(dns.ClassINET), uint16(0x0100), []byte{}, false)
	}
	f.Add([]byte{}, "blocked.test.", dns.TypeAAAA, uint16(dns.ClassANY), uint16(0x0100), []byte{0x10, 0, 0, 0x80}, false)
	f.Add([]byte{}, "x.wild.test.", dns.TypeANY, uint16(dns.ClassANY), uint16(0x0110), []byte{0x04, 0xd0, 0, 0, 0, 10, 0, 4, 1, 2, 3, 4}, true)
	f.Add([]byte{}, "x.wild.test.", dns.TypeHTTPS, uint16(dns.ClassINET), uint16(0x0100), []byte{0x04, 0xd0, 1, 0}, false)
	f.Add([]byte{}, "version.bind.", dns.TypeTXT, uint16(dns.ClassCHAOS), uint16(0x0000), []byte{}, false)
	f.Add([]byte{}, "blocked.test.", dns.TypeSOA, uint16(dns.ClassINET), uint16(0x2800), []byte{}, false)
	f.Add([]byte{}, "www.balias.test.", dns.TypeCNAME, uint16(dns.ClassINET), uint16(0x0100), []byte{0x02, 0, 0, 0}, true)
	q := new(dns.Msg).SetQuestion("ads.example.", dns.TypeA)
	q.SetEdns0(1232, true)
	q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: []byte{192, 0, 2, 0}},
		&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0123456789abcdef"})
	if raw, err := q.Pack(); err == nil {
		f.Add(raw, "", uint16(0), uint16(0), uint16(0), []byte{}, false)
	}

	f.Fuzz(func(t *testing.T, raw []byte, name string, qtype, qclass, bits uint16, edns []byte, tcp bool) {
		if len(raw) == 0 {
			if raw = buildQuery(name, qtype, qclass, bits, edns); raw == nil {
				t.Skip("no query packs from these fields")
			}
		}
		if len(raw) < 12 || dns.DefaultMsgAcceptFunc(wireHeader(raw)) != dns.MsgAccept {
			t.Skip("the server answers or drops this message before any plugin")
		}
		m := new(dns.Msg)
		if m.Unpack(raw) != nil {
			t.Skip("the server cannot unpack this message")
		}
		calls := c.next.calls.Load()
		reply := c.query(m, tcp)
		checkReplyMatches(t, m, reply)
		if len(m.Question) != 1 {
			return // a NOTIFY may come without a question; the plugin passes it on
		}
		q := m.Question[0]
		if m.Opcode != dns.OpcodeQuery || !(q.Qclass == dns.ClassINET || q.Qclass == dns.ClassANY) || !blockedByRows(q.Name) {
			return
		}
		if n := c.next.calls.Load() - calls; n != 0 {
			t.Fatalf("%v: the blocked name reached the next plugin %d times; reply %v", q, n, reply)
		}
		for _, rr := range append(append(reply.Answer, reply.Ns...), reply.Extra...) {
			for _, a := range upstreamAddrs {
				if strings.HasSuffix(rr.String(), "\t"+a) {
					t.Fatalf("%v: the blocked name got the upstream's %s: %v", q, a, reply)
				}
			}
		}
		if opt := m.IsEdns0(); opt != nil && opt.Version() == 0 && reply.Rcode == dns.RcodeSuccess && !hasEDE(reply, dns.ExtendedErrorCodeBlocked) {
			t.Fatalf("%v: a blocked answer to a query with EDNS0 lacks EDE 15: %v", q, reply)
		}
	})
}

// checkReplyMatches holds what every reply owes its query.
func checkReplyMatches(t *testing.T, m, reply *dns.Msg) {
	t.Helper()
	if reply == nil {
		t.Fatalf("no reply to %v", m)
	}
	if reply.Id != m.Id || !reply.Response || !slices.Equal(reply.Question, m.Question) {
		t.Fatalf("the reply does not match the query:\nquery %v\nreply %v", m, reply)
	}
	switch reply.Rcode {
	case dns.RcodeSuccess, dns.RcodeFormatError, dns.RcodeServerFailure, dns.RcodeNameError,
		dns.RcodeNotImplemented, dns.RcodeRefused, dns.RcodeBadVers:
	default:
		t.Fatalf("rcode %s to %v", dns.RcodeToString[reply.Rcode], m.Question)
	}
	packed, err := reply.Pack()
	if err != nil {
		t.Fatalf("the reply to %v does not pack: %v\n%v", m.Question, err, reply)
	}
	back := new(dns.Msg)
	if err := back.Unpack(packed); err != nil || !slices.Equal(back.Question, m.Question) {
		t.Fatalf("the packed reply to %v unpacks as %v (%v)", m.Question, back, err)
	}
}

func hasEDE(m *dns.Msg, code uint16) bool {
	opt := m.IsEdns0()
	if opt == nil {
		return false
	}
	return slices.ContainsFunc(opt.Option, func(o dns.EDNS0) bool {
		ede, ok := o.(*dns.EDNS0_EDE)
		return ok && ede.InfoCode == code
	})
}

// buildQuery packs a query for name, then gives it the header bits (QR,
// opcode, AA, TC, RD, RA, Z, AD, CD, rcode as on the wire) and, when edns is
// not empty, an OPT record: its first two bytes the UDP size, the third
// the version, the fourth's top bit DO, the rest options of two bytes code,
// one byte length, then the data.
func buildQuery(name string, qtype, qclass, bits uint16, edns []byte) []byte {
	if _, ok := dns.IsDomainName(name); !ok {
		return nil
	}
	m := new(dns.Msg)
	m.Question = []dns.Question{{Name: dns.Fqdn(name), Qtype: qtype, Qclass: qclass}}
	if len(edns) >= 4 {
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.SetUDPSize(binary.BigEndian.Uint16(edns))
		opt.SetVersion(edns[2])
		opt.SetDo(edns[3]&0x80 != 0)
		for o := edns[4:]; len(o) >= 3; {
			n := min(int(o[2]), len(o)-3)
			opt.Option = append(opt.Option, &dns.EDNS0_LOCAL{Code: binary.BigEndian.Uint16(o), Data: o[3 : 3+n]})
			o = o[3+n:]
		}
		m.Extra = []dns.RR{opt}
	}
	raw, err := m.Pack()
	if err != nil {
		return nil
	}
	binary.BigEndian.PutUint16(raw[2:], bits)
	return raw
}

func wireHeader(raw []byte) dns.Header {
	u := func(i int) uint16 { return binary.BigEndian.Uint16(raw[i:]) }
	return dns.Header{Id: u(0), Bits: u(2), Qdcount: u(4), Ancount: u(6), Nscount: u(8), Arcount: u(10)}
}
