package rules

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// AddrSet is the content of block_ip_v4 and block_ip_v6: the addresses and
// CIDR prefixes an answer must not hold. Rows compare as parsed addresses,
// so every textual form of an address is the same row; Lookup tries the
// exact rows first, then the longest prefix. An AddrSet is immutable and
// safe for concurrent use; a change in the tables builds a new one.
type AddrSet struct {
	exact    map[netip.Addr]addrRow   // the row as stored, for the verdict
	prefixes map[netip.Prefix]addrRow // masked prefix: the row as stored
	bits4    []int                    // prefix lengths present for IPv4, longest first
	bits6    []int                    // prefix lengths present for IPv6, longest first
}

// addrRow is a row as stored and its lists.
type addrRow struct {
	row   string
	lists policy.Lists
}

// AddrSetBuilder reads rows one at a time.
type AddrSetBuilder struct {
	s AddrSet
}

// NewAddrSetBuilder returns an empty builder.
func NewAddrSetBuilder() *AddrSetBuilder {
	return &AddrSetBuilder{s: AddrSet{exact: map[netip.Addr]addrRow{}, prefixes: map[netip.Prefix]addrRow{}}}
}

// Add reads one row of t (BlockIPv4 or BlockIPv6): an address or a CIDR
// prefix. It returns the reason the row cannot be used, or "" when it was
// added. Of two rows with the same parsed address or prefix the first wins.
// The row is in the list `default` alone (AddListed).
func (b *AddrSetBuilder) Add(t schema.Table, row string) string {
	return b.AddListed(t, row, policy.DefaultLists)
}

// AddListed is Add for a row in lists.
func (b *AddrSetBuilder) AddListed(t schema.Table, row string, lists policy.Lists) string {
	v4 := t == schema.BlockIPv4
	s := strings.TrimSpace(row)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return policy.ReasonBadAddress
		}
		if p.Addr().Is4() != v4 {
			return policy.ReasonWrongFamily
		}
		if !p.IsSingleIP() {
			p = p.Masked() // 10.1.2.3/8 means 10.0.0.0/8
			if _, dup := b.s.prefixes[p]; dup {
				return policy.ReasonDuplicate
			}
			b.s.prefixes[p] = addrRow{row, lists}
			bits := &b.s.bits6
			if v4 {
				bits = &b.s.bits4
			}
			if !slices.Contains(*bits, p.Bits()) {
				*bits = append(*bits, p.Bits())
				slices.SortFunc(*bits, func(a, b int) int { return b - a })
			}
			return ""
		}
		s = p.Addr().String()
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return policy.ReasonBadAddress
	}
	if a.Is4() != v4 {
		return policy.ReasonWrongFamily
	}
	if _, dup := b.s.exact[a]; dup {
		return policy.ReasonDuplicate
	}
	b.s.exact[a] = addrRow{row, lists}
	return ""
}

// Build returns the set; the builder must not be used afterwards.
func (b *AddrSetBuilder) Build() *AddrSet { return &b.s }

// Len is the number of usable rows.
func (s *AddrSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.exact) + len(s.prefixes)
}

// Lookup returns the row that holds a: the exact row first, then the
// longest prefix containing a. It costs one map probe per prefix length in
// use, whatever the number of rows.
func (s *AddrSet) Lookup(a netip.Addr) (row string, ok bool) {
	row, _, ok = s.LookupIn(a, policy.AllLists)
	return row, ok
}

// LookupIn is Lookup among the rows in one of the lists of in (the block
// lists of the client's scope), and returns the lists of the row found
// that are in in.
func (s *AddrSet) LookupIn(a netip.Addr, in policy.Lists) (row string, lists policy.Lists, ok bool) {
	if s.Len() == 0 || in == 0 {
		return "", 0, false
	}
	if r, ok := s.exact[a]; ok && r.lists&in != 0 {
		return r.row, r.lists & in, true
	}
	bits := s.bits6
	if a.Is4() {
		bits = s.bits4
	}
	for _, n := range bits {
		p, err := a.Prefix(n)
		if err != nil {
			continue
		}
		if r, ok := s.prefixes[p]; ok && r.lists&in != 0 {
			return r.row, r.lists & in, true
		}
	}
	return "", 0, false
}
