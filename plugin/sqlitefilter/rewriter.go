package sqlitefilter

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/coredns/coredns/plugin/metrics"
	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/rules"
)

// answerWriter is what the next plugin (or an upstream) writes its answer
// to: it checks the answer (answercheck.go), when check is set, then
// rewrites the addresses of its answer section on the way to the client.
// An answer the check blocks is replaced by the blocked answer, which is
// never rewritten. It copies the message before changing it, because the
// message may be shared: the cache plugin hands out its stored copy, and a
// zone plugin its records.
type answerWriter struct {
	dns.ResponseWriter
	rw *rules.AddrRewrites // nil: no rewrite
	// n counts rewritten addresses; when nil, and ctx is set, they are
	// counted in the metric of ctx's server and view.
	n     func(int)
	ctx   context.Context
	check *answerCheck // nil: the answer is not checked
}

// WriteMsg implements dns.ResponseWriter.
func (w *answerWriter) WriteMsg(m *dns.Msg) error {
	if m != nil && w.check != nil {
		if done, err := w.check.run(w, m); done {
			return err
		}
	}
	return w.rewrite(m)
}

// rewrite writes m with its addresses rewritten.
func (w *answerWriter) rewrite(m *dns.Msg) error {
	if m == nil || w.rw.Len() == 0 || !w.needed(m) {
		return w.ResponseWriter.WriteMsg(m)
	}
	m = m.Copy()
	var changed []dns.RR_Header // owner and type of every rewritten record
	addrs := 0                  // addresses rewritten, hints included
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			if to, ok := w.lookupA(rr.A); ok {
				rr.A, changed, addrs = net.IP(to.AsSlice()), append(changed, rr.Hdr), addrs+1
			}
		case *dns.AAAA:
			if to, ok := w.lookupAAAA(rr.AAAA); ok {
				rr.AAAA, changed, addrs = net.IP(to.AsSlice()), append(changed, rr.Hdr), addrs+1
			}
		case *dns.SVCB:
			if n := w.rewriteHints(rr.Value); n > 0 {
				changed, addrs = append(changed, rr.Hdr), addrs+n
			}
		case *dns.HTTPS:
			if n := w.rewriteHints(rr.Value); n > 0 {
				changed, addrs = append(changed, rr.Hdr), addrs+n
			}
		}
	}
	// The answer is no longer what the zone signed: it must not claim to
	// be validated, and the signatures of the changed RRsets, which no
	// longer verify, go with the data they signed.
	m.AuthenticatedData = false
	m.Answer = dropSignatures(m.Answer, changed)
	switch {
	case w.n != nil:
		w.n(addrs)
	case w.ctx != nil && addrs > 0:
		addrRewriteCount.WithLabelValues(metrics.WithServer(w.ctx), metrics.WithView(w.ctx)).Add(float64(addrs))
	}
	return w.ResponseWriter.WriteMsg(m)
}

// rewriteHints rewrites the addresses of the ipv4hint and ipv6hint of an
// SVCB or HTTPS record (a copy) as A and AAAA addresses are, and returns
// how many it changed.
func (w *answerWriter) rewriteHints(kvs []dns.SVCBKeyValue) int {
	n := 0
	for _, kv := range kvs {
		switch h := kv.(type) {
		case *dns.SVCBIPv4Hint:
			for i, ip := range h.Hint {
				if to, ok := w.lookupA(ip); ok {
					h.Hint[i], n = net.IP(to.AsSlice()), n+1
				}
			}
		case *dns.SVCBIPv6Hint:
			for i, ip := range h.Hint {
				if to, ok := w.lookupAAAA(ip); ok {
					h.Hint[i], n = net.IP(to.AsSlice()), n+1
				}
			}
		}
	}
	return n
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

func (w *answerWriter) needed(m *dns.Msg) bool {
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
		case *dns.SVCB:
			if w.hintRewritten(rr.Value) {
				return true
			}
		case *dns.HTTPS:
			if w.hintRewritten(rr.Value) {
				return true
			}
		}
	}
	return false
}

func (w *answerWriter) hintRewritten(kvs []dns.SVCBKeyValue) bool {
	for _, kv := range kvs {
		switch h := kv.(type) {
		case *dns.SVCBIPv4Hint:
			if slices.ContainsFunc(h.Hint, func(ip net.IP) bool { _, ok := w.lookupA(ip); return ok }) {
				return true
			}
		case *dns.SVCBIPv6Hint:
			if slices.ContainsFunc(h.Hint, func(ip net.IP) bool { _, ok := w.lookupAAAA(ip); return ok }) {
				return true
			}
		}
	}
	return false
}

// lookupA and lookupAAAA find the rewrite of an address as the record holds
// it (addrA, addrAAAA).
func (w *answerWriter) lookupA(ip net.IP) (netip.Addr, bool) {
	a, ok := addrA(ip)
	if !ok {
		return netip.Addr{}, false
	}
	return w.rw.Lookup(a)
}

func (w *answerWriter) lookupAAAA(ip net.IP) (netip.Addr, bool) {
	a, ok := addrAAAA(ip)
	if !ok {
		return netip.Addr{}, false
	}
	return w.rw.Lookup(a)
}

// addrA and addrAAAA parse an address as a record holds it: an A record's
// (or an ipv4hint's) may be in 16-byte form (net.ParseIP), and an
// IPv4-mapped AAAA stays an IPv6 address, as in ip_rewrite_v6 and
// block_ip_v6.
func addrA(ip net.IP) (netip.Addr, bool) {
	ip4 := ip.To4()
	if ip4 == nil {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(ip4)), true
}

func addrAAAA(ip net.IP) (netip.Addr, bool) {
	ip16 := ip.To16()
	if ip16 == nil {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16([16]byte(ip16)), true
}
