package sqlitefilter

import (
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/rules"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// The addresses rows and answers are made of: few enough that a random row
// often matches a random record.
var (
	fuzzV4 = []string{"192.0.2.1", "192.0.2.2", "192.0.2.130", "10.1.2.3", "10.1.9.9", "198.51.100.1", "0.0.0.0", "255.255.255.255"}
	fuzzV6 = []string{"2001:db8::1", "2001:db8::2", "2001:db8:0:1::1", "::ffff:192.0.2.1", "2001:db8::99", "::", "fe80::1", "2001:db8:ffff::1"}
	// fuzzOwners differ in case only where a signature must still be
	// matched to its RRset.
	fuzzOwners = []string{"example.org.", "Example.ORG.", "www.example.org.", "other.test."}
)

// rewriteRow is a row the builder accepted, as the reference lookup reads it.
type rewriteRow struct {
	source netip.Prefix
	target netip.Addr
}

// FuzzRewriteWriter writes random answers (A, AAAA in both address forms,
// RRSIG, HTTPS with hints, CNAME, on top of a message unpacked from the
// fuzzer's bytes) through the address rewrite with random rows. The
// message handed in is never modified; each address becomes what a
// reference lookup (an exact row, else the longest prefix) says and nothing
// else, so every rewritten address is a row's target; an answer with a
// changed address has AD cleared and no RRSIG over the changed RRsets, and
// keeps every other signature; an answer nothing matched is passed through
// as it is; the other sections are untouched.
func FuzzRewriteWriter(f *testing.F) {
	f.Add([]byte{0, 0, 5, 1, 3, 4}, []byte{0, 0, 1, 0, 2, 0, 3, 0}, []byte{}, true)
	f.Add([]byte{2, 3, 8, 3, 0, 64}, []byte{0, 3, 0, 4, 1, 0, 2, 1, 8, 0}, []byte{}, true)
	f.Add([]byte{4, 0, 0, 8, 1, 1}, []byte{0, 0x80, 8, 0, 3, 2, 1, 3}, []byte{}, false)
	f.Add([]byte{6, 0, 24, 7, 3, 96}, []byte{3, 0, 3, 1, 2, 3, 0, 2}, []byte{}, true)
	seed := new(dns.Msg).SetQuestion("example.org.", dns.TypeA)
	seed.AuthenticatedData = true
	seed.Answer = []dns.RR{test.A("example.org. 300 IN A 192.0.2.1"), test.AAAA("example.org. 300 IN AAAA 2001:db8::1")}
	seed.Ns = []dns.RR{test.NS("example.org. 300 IN NS ns.example.org.")}
	seed.Extra = []dns.RR{test.A("ns.example.org. 300 IN A 192.0.2.1")}
	if packed, err := seed.Pack(); err == nil {
		f.Add([]byte{0, 0, 5}, []byte{2, 0}, packed, true)
	}
	f.Fuzz(func(t *testing.T, rowBytes, answer, packed []byte, ad bool) {
		rw, rows := fuzzRewrites(rowBytes)
		m := new(dns.Msg)
		if m.Unpack(packed) != nil {
			m = new(dns.Msg).SetQuestion("example.org.", dns.TypeA)
		}
		m.AuthenticatedData = ad
		m.Answer = append(m.Answer, fuzzAnswer(answer)...)
		original, before := m.Copy(), dumpMsg(m)

		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		counted := 0
		w := &answerWriter{ResponseWriter: rec, rw: rw, n: func(n int) { counted += n }}
		if err := w.WriteMsg(m); err != nil {
			t.Fatal(err)
		}
		if after := dumpMsg(m); after != before {
			t.Fatalf("the message handed in was changed:\nbefore %s\nafter %s", before, after)
		}
		checkRewritten(t, rows, original, rec.Msg, counted)
	})
}

func checkRewritten(t *testing.T, rows []rewriteRow, in, out *dns.Msg, counted int) {
	t.Helper()
	if dumpRRs(out.Ns) != dumpRRs(in.Ns) || dumpRRs(out.Extra) != dumpRRs(in.Extra) || !reflect.DeepEqual(out.Question, in.Question) {
		t.Fatalf("a section other than the answer changed:\nin %v\nout %v", in, out)
	}
	data := func(m *dns.Msg) []dns.RR {
		var rrs []dns.RR
		for _, rr := range m.Answer {
			if _, sig := rr.(*dns.RRSIG); !sig {
				rrs = append(rrs, rr)
			}
		}
		return rrs
	}
	before, after := data(in), data(out)
	if len(before) != len(after) {
		t.Fatalf("%d records other than RRSIG went in, %d came out:\nin %v\nout %v", len(before), len(after), in, out)
	}
	targets := map[netip.Addr]bool{}
	for _, r := range rows {
		targets[r.target] = true
	}
	matched := map[string]bool{} // owner/type of the RRsets a row matched
	changed := map[string]bool{} // those with an address that changed
	nMatched := 0
	for i, b := range before {
		a := after[i]
		key := strings.ToLower(b.Header().Name) + "/" + dns.TypeToString[b.Header().Rrtype]
		if b.Header().Rrtype != a.Header().Rrtype || b.Header().Name != a.Header().Name {
			t.Fatalf("record %d was %v, is %v", i, b, a)
		}
		from, to := recordAddrs(b), recordAddrs(a)
		if len(from) != len(to) {
			t.Fatalf("record %d was %v, is %v", i, b, a)
		}
		for j := range from {
			if to[j] != from[j] {
				changed[key] = true
				if !targets[to[j]] {
					t.Fatalf("%v became %v: %v is the target of no row", b, a, to[j])
				}
			}
			// A/AAAA addresses and SVCB/HTTPS hints alike.
			want, ok := referenceLookup(rows, from[j])
			if !ok {
				want = from[j]
			} else {
				matched[key] = true
				nMatched++
			}
			if to[j] != want {
				t.Fatalf("%v became %v, want the address %v", b, a, want)
			}
		}
	}
	if nMatched == 0 && len(changed) == 0 && dumpMsg(out) != dumpMsg(in) {
		t.Fatalf("no row matched, yet the answer differs:\nin %v\nout %v", in, out)
	}
	if counted != nMatched {
		t.Fatalf("%d rewritten addresses counted, %d matched a row", counted, nMatched)
	}
	if len(changed) > 0 && out.AuthenticatedData {
		t.Fatalf("addresses changed (%v) and AD is still set", changed)
	}
	sigs := map[string]int{}
	for _, rr := range in.Answer {
		if sig, ok := rr.(*dns.RRSIG); ok {
			sigs[sig.String()]++
		}
	}
	kept := map[string]int{}
	for _, rr := range out.Answer {
		sig, ok := rr.(*dns.RRSIG)
		if !ok {
			continue
		}
		key := strings.ToLower(sig.Hdr.Name) + "/" + dns.TypeToString[sig.TypeCovered]
		if changed[key] {
			t.Fatalf("the RRset %s changed and kept its signature %v", key, sig)
		}
		if kept[sig.String()]++; kept[sig.String()] > sigs[sig.String()] {
			t.Fatalf("a signature that was not in the answer: %v", sig)
		}
	}
	for _, rr := range in.Answer {
		sig, ok := rr.(*dns.RRSIG)
		if !ok || matched[strings.ToLower(sig.Hdr.Name)+"/"+dns.TypeToString[sig.TypeCovered]] {
			continue
		}
		if kept[sig.String()] < sigs[sig.String()] {
			t.Fatalf("the signature %v of an RRset no row matched was dropped", sig)
		}
	}
}

// dumpMsg shows m with the bytes of every address, in the form they are
// held (an A record's 4 or 16 bytes).
func dumpMsg(m *dns.Msg) string {
	return m.String() + dumpRRs(m.Answer) + dumpRRs(m.Ns) + dumpRRs(m.Extra)
}

func dumpRRs(rrs []dns.RR) string {
	var b strings.Builder
	for _, rr := range rrs {
		b.WriteString(rr.String())
		switch rr := rr.(type) {
		case *dns.A:
			fmt.Fprintf(&b, " %x", []byte(rr.A))
		case *dns.AAAA:
			fmt.Fprintf(&b, " %x", []byte(rr.AAAA))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// recordAddrs are the addresses a record holds: an A or AAAA record's, or
// an HTTPS record's hints.
func recordAddrs(rr dns.RR) []netip.Addr {
	from := func(ip net.IP) netip.Addr {
		a, _ := netip.AddrFromSlice(ip)
		return a
	}
	switch rr := rr.(type) {
	case *dns.A:
		return []netip.Addr{from(rr.A.To4())}
	case *dns.AAAA:
		return []netip.Addr{from(rr.AAAA)}
	case *dns.HTTPS:
		var out []netip.Addr
		for _, kv := range rr.Value {
			switch kv := kv.(type) {
			case *dns.SVCBIPv4Hint:
				for _, ip := range kv.Hint {
					out = append(out, from(ip.To4()))
				}
			case *dns.SVCBIPv6Hint:
				for _, ip := range kv.Hint {
					out = append(out, from(ip))
				}
			}
		}
		return out
	}
	return nil
}

// referenceLookup is what a row makes of a: the exact row first, else the
// longest prefix holding it; among equal sources the first row.
func referenceLookup(rows []rewriteRow, a netip.Addr) (netip.Addr, bool) {
	best := -1
	for i, r := range rows {
		if r.source.Addr().Is4() != a.Is4() || !r.source.Contains(a) {
			continue
		}
		if best < 0 || r.source.Bits() > rows[best].source.Bits() {
			best = i
		}
	}
	if best < 0 {
		return netip.Addr{}, false
	}
	return rows[best].target, true
}

// fuzzRewrites builds rows from b, three bytes a row: the table and the form
// of the source, the source, the target and prefix length. It returns the
// rewrites and the rows the builder accepted.
func fuzzRewrites(b []byte) (*rules.AddrRewrites, []rewriteRow) {
	builder := rules.NewAddrRewritesBuilder()
	var rows []rewriteRow
	for ; len(b) >= 3; b = b[3:] {
		kind, src, tgt := b[0], int(b[1]), int(b[2])
		table, pool, maxBits := schema.RewriteV4, fuzzV4, 32
		if kind&1 != 0 {
			table, pool, maxBits = schema.RewriteV6, fuzzV6, 128
		}
		source := pool[src%len(pool)]
		if kind&2 != 0 {
			source = netip.PrefixFrom(netip.MustParseAddr(source), tgt%(maxBits+1)).String()
		}
		target := pool[tgt%len(pool)]
		if kind&4 != 0 {
			target = fuzzV4[(tgt/8)%len(fuzzV4)]
			if table == schema.RewriteV6 {
				target = fuzzV6[(tgt/8)%len(fuzzV6)]
			}
		}
		if kind&8 != 0 { // the other family's table
			table = map[schema.Table]schema.Table{schema.RewriteV4: schema.RewriteV6, schema.RewriteV6: schema.RewriteV4}[table]
		}
		if builder.Add(table, source, target) != "" {
			continue
		}
		p, err := netip.ParsePrefix(source)
		if err != nil {
			a := netip.MustParseAddr(source)
			p = netip.PrefixFrom(a, a.BitLen())
		}
		p = p.Masked()
		if slices.ContainsFunc(rows, func(r rewriteRow) bool { return r.source == p }) {
			continue // the builder keeps the first of two equal sources
		}
		rows = append(rows, rewriteRow{source: p, target: netip.MustParseAddr(target)})
	}
	return builder.Build(), rows
}

// fuzzAnswer builds answer records from b, two bytes a record: the kind and
// owner, then the data.
func fuzzAnswer(b []byte) []dns.RR {
	var rrs []dns.RR
	for ; len(b) >= 2; b = b[2:] {
		kind, data := b[0], int(b[1])
		hdr := func(t uint16) dns.RR_Header {
			return dns.RR_Header{Name: fuzzOwners[int(kind>>3)%len(fuzzOwners)], Rrtype: t, Class: dns.ClassINET, Ttl: 300}
		}
		v4 := net.ParseIP(fuzzV4[data%len(fuzzV4)])
		if data&0x80 == 0 {
			v4 = v4.To4() // else the 16-byte form net.ParseIP gives
		}
		v6 := net.ParseIP(fuzzV6[data%len(fuzzV6)])
		switch kind % 5 {
		case 0:
			rrs = append(rrs, &dns.A{Hdr: hdr(dns.TypeA), A: v4})
		case 1:
			rrs = append(rrs, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: v6})
		case 2:
			covered := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeHTTPS, dns.TypeCNAME}[data%4]
			rrs = append(rrs, &dns.RRSIG{Hdr: hdr(dns.TypeRRSIG), TypeCovered: covered, Algorithm: dns.ECDSAP256SHA256,
				Labels: 2, OrigTtl: 300, Expiration: 2000000000, Inception: 1000000000, KeyTag: uint16(data),
				SignerName: "example.org.", Signature: "c2lnbmF0dXJl"})
		case 3:
			rrs = append(rrs, &dns.HTTPS{SVCB: dns.SVCB{Hdr: hdr(dns.TypeHTTPS), Priority: 1, Target: ".", Value: []dns.SVCBKeyValue{
				&dns.SVCBAlpn{Alpn: []string{"h2"}},
				&dns.SVCBIPv4Hint{Hint: []net.IP{v4.To4()}},
				&dns.SVCBIPv6Hint{Hint: []net.IP{v6}},
			}}})
		case 4:
			rrs = append(rrs, &dns.CNAME{Hdr: hdr(dns.TypeCNAME), Target: "target.example.org."})
		}
	}
	return rrs
}
