package rules

import (
	"net/netip"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

func TestAddrRewriteRows(t *testing.T) {
	tests := []struct {
		table          schema.Table
		source, target string
		reason         string
	}{
		{schema.RewriteV4, "192.0.2.1", "198.51.100.1", ""},
		{schema.RewriteV4, " 192.0.2.2 ", "198.51.100.2", ""},
		{schema.RewriteV4, "10.0.0.0/8", "198.51.100.8", ""},
		{schema.RewriteV4, "10.9.9.9/8", "198.51.100.9", policy.ReasonDuplicate}, // same prefix once masked
		{schema.RewriteV4, "192.0.2.3/32", "198.51.100.3", ""},
		{schema.RewriteV4, "010.0.0.1", "198.51.100.1", policy.ReasonBadAddress}, // leading zeros are ambiguous
		{schema.RewriteV4, "192.0.2.4", "not an address", policy.ReasonBadAddress},
		{schema.RewriteV4, "192.0.2.5", "10.0.0.0/8", policy.ReasonBadAddress},
		{schema.RewriteV4, "2001:db8::1", "198.51.100.1", policy.ReasonWrongFamily},
		{schema.RewriteV4, "192.0.2.6", "2001:db8::1", policy.ReasonWrongFamily},
		{schema.RewriteV4, "2001:db8::/32", "198.51.100.1", policy.ReasonWrongFamily},
		{schema.RewriteV6, "2001:DB8::1", "2001:db8::99", ""},
		{schema.RewriteV6, "2001:0db8:0:0:0:0:0:1", "2001:db8::98", policy.ReasonDuplicate},
		{schema.RewriteV6, "fe80::1%eth0", "2001:db8::99", policy.ReasonBadAddress},
		{schema.RewriteV6, "192.0.2.1", "2001:db8::99", policy.ReasonWrongFamily},
		{schema.RewriteV6, "::ffff:192.0.2.1", "2001:db8::97", ""},
	}
	b := NewAddrRewritesBuilder()
	for _, tc := range tests {
		if got := b.Add(tc.table, tc.source, tc.target); got != tc.reason {
			t.Errorf("Add(%s, %q, %q) = %q, want %q", tc.table, tc.source, tc.target, got, tc.reason)
		}
	}
	r := b.Build()
	lookups := []struct{ addr, want string }{
		{"192.0.2.1", "198.51.100.1"},
		{"192.0.2.3", "198.51.100.3"},
		{"10.255.0.1", "198.51.100.8"},
		{"11.0.0.1", ""},
		{"2001:db8::1", "2001:db8::99"},
		{"::ffff:192.0.2.1", "2001:db8::97"},
	}
	for _, l := range lookups {
		got, ok := r.Lookup(netip.MustParseAddr(l.addr))
		if (l.want == "") == ok || (ok && got != netip.MustParseAddr(l.want)) {
			t.Errorf("Lookup(%s) = %v, %t; want %q", l.addr, got, ok, l.want)
		}
	}
}
