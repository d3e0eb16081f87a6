package rules

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// AddrRewrites is the content of ip_rewrite_v4 and ip_rewrite_v6: which
// address of an answer becomes which. Sources compare as
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
		return policy.ReasonBadAddress
	}
	if to.Is4() != v4 {
		return policy.ReasonWrongFamily
	}
	source = strings.TrimSpace(source)
	if strings.Contains(source, "/") {
		p, err := netip.ParsePrefix(source)
		if err != nil {
			return policy.ReasonBadAddress
		}
		if p.Addr().Is4() != v4 {
			return policy.ReasonWrongFamily
		}
		if !p.IsSingleIP() {
			// 10.1.2.3/8 means 10.0.0.0/8: the host bits of a prefix
			// are noise, not a narrower rule.
			p = p.Masked()
			if _, dup := b.r.prefixes[p]; dup {
				return policy.ReasonDuplicate
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
		return policy.ReasonBadAddress
	}
	if from.Is4() != v4 {
		return policy.ReasonWrongFamily
	}
	if _, dup := b.r.exact[from]; dup {
		return policy.ReasonDuplicate
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
