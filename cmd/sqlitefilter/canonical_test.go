package main

import (
	"strings"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

func TestCanonicalName(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	name253 := strings.Repeat(label63+".", 3) + strings.Repeat("b", 61) // 3*64 + 61 = 253
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Ads.Example.COM.", "ads.example.com", true},
		{"  padded.example \t", "padded.example", true},
		{"bücher.example", "xn--bcher-kva.example", true},
		{"BÜCHER.example", "xn--bcher-kva.example", true},
		{"_dmarc.example.com", "_dmarc.example.com", true},
		{"select", "select", true}, // an SQL keyword is a valid TLD-like label, stored as data
		{"drop.table.example", "drop.table.example", true},
		{label63 + ".example", label63 + ".example", true},
		{name253, name253, true},
		{name253 + "b", "", false}, // 254 characters
		{"a" + label63 + ".example", "", false},
		{"x';drop table block_exact;--.com", "", false},
		{"semi;colon.example", "", false},
		{"dash--dash.example", "dash--dash.example", true},
		{"--comment", "", false},
		{"nul\x00byte.example", "", false},
		{"\xff\xfe.example", "", false},
		{"a..b.example", "", false},
		{".", "", false},
		{"", "", false},
		{"*.example.com", "", false},
		{"space in.example", "", false},
		{"-lead.example", "", false},
	}
	for _, tt := range tests {
		got, err := canonicalName(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("canonicalName(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestCanonicalKeyByTable(t *testing.T) {
	tests := []struct {
		table    schema.Table
		in, want string
		ok       bool
	}{
		{schema.RewriteV6, "2001:0DB8:0:0:0:0:0:1", "2001:db8::1", true},
		{schema.RewriteV6, "192.0.2.1", "", false},
		{schema.RewriteV6, "::ffff:192.0.2.1", "::ffff:192.0.2.1", true}, // the plugin's family rule
		{schema.RewriteV4, "10.1.2.3/8", "10.0.0.0/8", true},
		{schema.RewriteV4, "192.0.2.1/32", "192.0.2.1", true},
		{schema.RewriteV4, "2001:db8::/32", "", false},
		{schema.RewriteV6, "2001:DB8::/32", "2001:db8::/32", true},
		{schema.RewriteV4, "10.0.0.0/33", "", false},
		{schema.RewriteV4, "192.0.2.1", "192.0.2.1", true},
		{schema.RewriteV4, "2001:db8::1", "", false},
		{schema.RewriteV4, "192.0.2.256", "", false},
		{schema.BlockRegex, `^\D+\.Example$`, `^\D+\.Example$`, true}, // kept as written
		{schema.BlockRegex, `(unclosed`, "", false},
		{schema.BlockExact, "X.com", "x.com", true},
	}
	for _, tt := range tests {
		got, err := canonicalKey(tt.table, tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("canonicalKey(%s, %q) = %q, %v; want %q, ok=%v", tt.table, tt.in, got, err, tt.want, tt.ok)
		}
	}
}
