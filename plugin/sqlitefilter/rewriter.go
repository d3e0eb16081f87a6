package sqlitefilter

import (
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/rules"
)

// rewriteWriter rewrites the A and AAAA records of the answer section on the
// way to the client. It copies the message before changing it, because the
// message may be shared: the cache plugin hands out its stored copy, and a
// zone plugin its records.
type rewriteWriter struct {
	dns.ResponseWriter
	rw *rules.AddrRewrites
	n  func(int) // counts rewritten addresses
}

// WriteMsg implements dns.ResponseWriter.
func (w *rewriteWriter) WriteMsg(m *dns.Msg) error {
	if m == nil || !w.needed(m) {
		return w.ResponseWriter.WriteMsg(m)
	}
	m = m.Copy()
	var changed []dns.RR_Header // owner and type of every rewritten record
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			if to, ok := w.lookupA(rr.A); ok {
				rr.A, changed = net.IP(to.AsSlice()), append(changed, rr.Hdr)
			}
		case *dns.AAAA:
			if to, ok := w.lookupAAAA(rr.AAAA); ok {
				rr.AAAA, changed = net.IP(to.AsSlice()), append(changed, rr.Hdr)
			}
		}
	}
	// The answer is no longer what the zone signed: it must not claim to
	// be validated, and the signatures of the changed RRsets, which no
	// longer verify, go with the data they signed.
	m.AuthenticatedData = false
	m.Answer = dropSignatures(m.Answer, changed)
	if w.n != nil {
		w.n(len(changed))
	}
	return w.ResponseWriter.WriteMsg(m)
}

// dropSignatures removes the RRSIG records that cover an RRset of changed
// (same owner, covered type).
func dropSignatures(answer []dns.RR, changed []dns.RR_Header) []dns.RR {
	return slices.DeleteFunc(answer, func(rr dns.RR) bool {
		sig, ok := rr.(*dns.RRSIG)
		return ok && slices.ContainsFunc(changed, func(h dns.RR_Header) bool {
			return h.Rrtype == sig.TypeCovered && strings.EqualFold(h.Name, sig.Hdr.Name)
		})
	})
}

func (w *rewriteWriter) needed(m *dns.Msg) bool {
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			if _, ok := w.lookupA(rr.A); ok {
				return true
			}
		case *dns.AAAA:
			if _, ok := w.lookupAAAA(rr.AAAA); ok {
				return true
			}
		}
	}
	return false
}

// lookupA and lookupAAAA parse an address as the record holds it: an A
// record's may be in 16-byte form (net.ParseIP), and an IPv4-mapped AAAA
// stays an IPv6 address, as in ip_rewrite_v6.
func (w *rewriteWriter) lookupA(ip net.IP) (netip.Addr, bool) {
	ip4 := ip.To4()
	if ip4 == nil {
		return netip.Addr{}, false
	}
	return w.rw.Lookup(netip.AddrFrom4([4]byte(ip4)))
}

func (w *rewriteWriter) lookupAAAA(ip net.IP) (netip.Addr, bool) {
	ip16 := ip.To16()
	if ip16 == nil {
		return netip.Addr{}, false
	}
	return w.rw.Lookup(netip.AddrFrom16([16]byte(ip16)))
}
