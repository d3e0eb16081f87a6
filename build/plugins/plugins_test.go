package plugins

import (
	"slices"
	"testing"

	"github.com/coredns/coredns/core/dnsserver"
)

func TestDirectiveSitsBetweenACLAndCache(t *testing.T) {
	d := dnsserver.Directives
	i := slices.Index(d, Directive)
	if i < 1 || d[i-1] != "acl" || d[i+1] != "cache" {
		t.Fatalf("sqlitefilter at %d in %v, want right after acl and before cache", i, d)
	}
	if n := len(d); slices.Index(d, "forward") < 0 || n < 40 {
		t.Fatalf("directives lost entries: %d, %v", n, d)
	}
}

func TestInsertDirectiveFailsWithoutAnchors(t *testing.T) {
	tests := [][]string{
		{"log", "cache", "forward"},
		{"log", "acl", "forward"},
		{"cache", "acl"},
		{"acl", "sqlitefilter", "cache"},
	}
	for _, in := range tests {
		if got, err := InsertDirective(in); err == nil {
			t.Errorf("InsertDirective(%v) = %v, want an error", in, got)
		}
	}
}

func TestInsertDirectiveKeepsEveryOtherDirective(t *testing.T) {
	in := []string{"log", "acl", "cache", "forward"}
	got, err := InsertDirective(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"log", "acl", "sqlitefilter", "cache", "forward"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if !slices.Equal(in, []string{"log", "acl", "cache", "forward"}) {
		t.Fatalf("input modified: %v", in)
	}
}
