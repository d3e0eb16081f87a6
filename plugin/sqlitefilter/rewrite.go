package sqlitefilter

import (
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// AddrRewrites is the content of ip_rewrite_v4 and ip_rewrite_v6 (SPEC §3,
// "on the way back"): which answer address becomes which. Sources compare as
// parsed addresses, so every textual form of an address is the same row. A
// source written as a CIDR prefix applies to every address in it; the exact
// rows come first, then the longest prefix. An AddrRewrites is immutable and
// safe for concurrent use; a change in the tables builds a new one.
type AddrRewrites struct {
	exact    map[netip.Addr]netip.Addr
	prefixes map[netip.Prefix]netip.Addr
	bits4    []int // prefix lengths present in ip_rewrite_v4, longest first
	bits6    []int // prefix lengths present in ip_rewrite_v6, longest first
}

// The reasons a row is skipped, the reason label of rows_skipped_total.
const (
	ReasonBadPattern  = "bad_pattern"  // block_regex: does not compile
	ReasonBadAddress  = "bad_address"  // ip_rewrite_*: source or target does not parse
	ReasonWrongFamily = "wrong_family" // ip_rewrite_*: an address of the other family
	ReasonDuplicate   = "duplicate"    // ip_rewrite_*: another text form of a source already read
	ReasonBadTarget   = "bad_target"   // domain_alias: the target is not a host name
	ReasonOverCap     = "over_cap"     // the table has more rows than the configured cap
)

// AddrRewritesBuilder reads rows one at a time.
type AddrRewritesBuilder struct {
	r AddrRewrites
}

// NewAddrRewritesBuilder returns an empty builder.
func NewAddrRewritesBuilder() *AddrRewritesBuilder {
	return &AddrRewritesBuilder{r: AddrRewrites{
		exact:    map[netip.Addr]netip.Addr{},
		prefixes: map[netip.Prefix]netip.Addr{},
	}}
}

// Add reads one row of t (RewriteV4 or RewriteV6). It returns the reason the
// row cannot be used, or "" when it was added. The first of two rows with the
// same parsed source wins.
func (b *AddrRewritesBuilder) Add(t schema.Table, source, target string) string {
	v4 := t == schema.RewriteV4
	to, err := netip.ParseAddr(strings.TrimSpace(target))
	if err != nil || to.Zone() != "" {
		return ReasonBadAddress
	}
	if to.Is4() != v4 {
		return ReasonWrongFamily
	}
	source = strings.TrimSpace(source)
	if strings.Contains(source, "/") {
		p, err := netip.ParsePrefix(source)
		if err != nil {
			return ReasonBadAddress
		}
		if p.Addr().Is4() != v4 {
			return ReasonWrongFamily
		}
		if !p.IsSingleIP() {
			// 10.1.2.3/8 means 10.0.0.0/8: the host bits of a prefix
			// are noise, not a narrower rule.
			p = p.Masked()
			if _, dup := b.r.prefixes[p]; dup {
				return ReasonDuplicate
			}
			b.r.prefixes[p] = to
			bits := &b.r.bits6
			if v4 {
				bits = &b.r.bits4
			}
			if !slices.Contains(*bits, p.Bits()) {
				*bits = append(*bits, p.Bits())
				slices.SortFunc(*bits, func(a, b int) int { return b - a })
			}
			return ""
		}
		source = p.Addr().String()
	}
	from, err := netip.ParseAddr(source)
	if err != nil || from.Zone() != "" {
		return ReasonBadAddress
	}
	if from.Is4() != v4 {
		return ReasonWrongFamily
	}
	if _, dup := b.r.exact[from]; dup {
		return ReasonDuplicate
	}
	b.r.exact[from] = to
	return ""
}

// Build returns the rewrites; the builder must not be used afterwards.
func (b *AddrRewritesBuilder) Build() *AddrRewrites { return &b.r }

// Len is the number of usable rows.
func (r *AddrRewrites) Len() int {
	if r == nil {
		return 0
	}
	return len(r.exact) + len(r.prefixes)
}

// Lookup returns the address a should become: an exact row first, then the
// longest prefix containing a. It costs one map probe per prefix length in
// use, whatever the number of rows.
func (r *AddrRewrites) Lookup(a netip.Addr) (netip.Addr, bool) {
	if r.Len() == 0 {
		return netip.Addr{}, false
	}
	if to, ok := r.exact[a]; ok {
		return to, true
	}
	bits := r.bits6
	if a.Is4() {
		bits = r.bits4
	}
	for _, n := range bits {
		p, err := a.Prefix(n)
		if err != nil {
			continue
		}
		if to, ok := r.prefixes[p]; ok {
			return to, true
		}
	}
	return netip.Addr{}, false
}

// rewriteWriter rewrites the A and AAAA records of the answer section on the
// way to the client. It copies the message before changing it, because the
// message may be shared: the cache plugin hands out its stored copy, and a
// zone plugin its records.
type rewriteWriter struct {
	dns.ResponseWriter
	rw *AddrRewrites
	n  func(int) // counts rewritten addresses
}

// WriteMsg implements dns.ResponseWriter.
func (w *rewriteWriter) WriteMsg(m *dns.Msg) error {
	if m == nil || !w.needed(m) {
		return w.ResponseWriter.WriteMsg(m)
	}
	m = m.Copy()
	n := 0
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			if to, ok := w.lookupA(rr.A); ok {
				rr.A, n = net.IP(to.AsSlice()), n+1
			}
		case *dns.AAAA:
			if to, ok := w.lookupAAAA(rr.AAAA); ok {
				rr.AAAA, n = net.IP(to.AsSlice()), n+1
			}
		}
	}
	if w.n != nil {
		w.n(n)
	}
	return w.ResponseWriter.WriteMsg(m)
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
