package policy_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
)

func TestCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{"www.example.com.", "www.example.com"},
		{"WwW.ExAmPlE.CoM.", "www.example.com"},
		{"example.com", "example.com"},
		{".", ""},
		{"xn--bcher-kva.example.", "xn--bcher-kva.example"},
		{`a\..example.`, `a\..example`},
		{`trailing\.`, `trailing\.`},
	}
	for _, tc := range tests {
		if got := policy.Canonical(tc.in); got != tc.want {
			t.Errorf("Canonical(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func suffixes(name string) []string {
	var out []string
	for s, ok := name, name != ""; ok; s, ok = policy.Parent(s) {
		out = append(out, s)
	}
	return out
}

func TestParentWalksEverySuffix(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"a.b.example.co.uk", []string{"a.b.example.co.uk", "b.example.co.uk", "example.co.uk", "co.uk", "uk"}},
		{"com", []string{"com"}},
		{"", nil},
		{`a\.b.example`, []string{`a\.b.example`, "example"}},
	}
	for _, tc := range tests {
		if got := suffixes(tc.name); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("suffixes(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestParentHasNoDepthCap(t *testing.T) {
	name := strings.Repeat("l.", 120) + "example.com"
	got := suffixes(name)
	if len(got) != 122 || got[len(got)-2] != "example.com" || got[len(got)-1] != "com" {
		t.Fatalf("got %d suffixes ending in %q, want 122 ending in example.com, com", len(got), got[len(got)-2:])
	}
}
