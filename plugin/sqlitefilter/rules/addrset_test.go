package rules

import (
	"net/netip"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

func TestBlockedAddressRowsMatchExactThenLongestPrefix(t *testing.T) {
	rows := []struct {
		table  schema.Table
		row    string
		reason string
	}{
		{schema.BlockIPv4, "192.0.2.66", ""},
		{schema.BlockIPv4, "198.51.100.0/24", ""},
		{schema.BlockIPv4, "198.51.100.128/25", ""},
		{schema.BlockIPv4, "198.51.100.9/24", policy.ReasonDuplicate}, // the /24 once masked
		{schema.BlockIPv4, "192.0.2.67/32", ""},
		{schema.BlockIPv4, "010.0.0.1", policy.ReasonBadAddress},
		{schema.BlockIPv4, "2001:db8::1", policy.ReasonWrongFamily},
		{schema.BlockIPv4, "not/an/address", policy.ReasonBadAddress},
		{schema.BlockIPv6, "2001:DB8::66", ""},
		{schema.BlockIPv6, "2001:0db8:0:0:0:0:0:66", policy.ReasonDuplicate},
		{schema.BlockIPv6, "2001:db8:bad::/48", ""},
		{schema.BlockIPv6, "192.0.2.1", policy.ReasonWrongFamily},
		{schema.BlockIPv6, "fe80::1%eth0", policy.ReasonBadAddress},
	}
	b := NewAddrSetBuilder()
	for _, r := range rows {
		if got := b.Add(r.table, r.row); got != r.reason {
			t.Errorf("Add(%s, %q) = %q, want %q", r.table, r.row, got, r.reason)
		}
	}
	s := b.Build()
	if s.Len() != 6 {
		t.Errorf("Len = %d, want 6", s.Len())
	}
	lookups := []struct{ addr, want string }{
		{"192.0.2.66", "192.0.2.66"},
		{"192.0.2.67", "192.0.2.67/32"},
		{"192.0.2.68", ""},
		{"198.51.100.1", "198.51.100.0/24"},
		{"198.51.100.200", "198.51.100.128/25"},
		{"198.51.101.1", ""},
		{"2001:db8::66", "2001:DB8::66"},
		{"2001:db8:bad:1::1", "2001:db8:bad::/48"},
		{"2001:db8:bae::1", ""},
		{"::ffff:192.0.2.66", ""}, // an IPv4-mapped IPv6 address is not the IPv4 row
	}
	for _, l := range lookups {
		got, ok := s.Lookup(netip.MustParseAddr(l.addr))
		if got != l.want || ok != (l.want != "") {
			t.Errorf("Lookup(%s) = %q, %t; want %q", l.addr, got, ok, l.want)
		}
	}
	if _, ok := (*AddrSet)(nil).Lookup(netip.MustParseAddr("192.0.2.66")); ok {
		t.Error("the empty set holds an address")
	}
}

func TestAddrSetLookupInKeepsToTheLists(t *testing.T) {
	b := NewAddrSetBuilder()
	b.AddListed(schema.BlockIPv4, "198.18.0.0/15", 2)
	b.AddListed(schema.BlockIPv4, "198.18.0.0/16", 4)
	b.AddListed(schema.BlockIPv4, "198.18.0.66", 8)
	s := b.Build()
	a := netip.MustParseAddr("198.18.0.66")
	tests := []struct {
		in        policy.Lists
		row       string
		lists     policy.Lists
		wantFound bool
	}{
		{policy.AllLists, "198.18.0.66", 8, true},
		{2 | 4, "198.18.0.0/16", 4, true},
		{2, "198.18.0.0/15", 2, true},
		{1, "", 0, false},
		{0, "", 0, false},
	}
	for _, tc := range tests {
		row, lists, ok := s.LookupIn(a, tc.in)
		if row != tc.row || lists != tc.lists || ok != tc.wantFound {
			t.Errorf("LookupIn(%v, %b) = %q, %b, %v; want %q, %b, %v", a, tc.in, row, lists, ok, tc.row, tc.lists, tc.wantFound)
		}
	}
	if row, ok := s.Lookup(a); !ok || row != "198.18.0.66" {
		t.Errorf("Lookup = %q, %v", row, ok)
	}
}
