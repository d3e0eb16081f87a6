package plugins

import (
	"slices"
	"testing"

	"github.com/coredns/caddy"
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

// TestEncryptedTransportPluginsAreLinked: the plugins that tls://, https://,
// https3://, quic:// and grpc:// server blocks use are in the binary, so a
// Corefile with `tls CERT KEY` in such a block does not fail as an unknown
// directive.
func TestEncryptedTransportPluginsAreLinked(t *testing.T) {
	linked := caddy.ListPlugins()["others"]
	for _, name := range []string{"tls", "quic", "https", "https3", "grpc_server", "grpc", "proxyproto", Directive} {
		if !slices.Contains(linked, "dns."+name) {
			t.Errorf("plugin %s is not linked: %v", name, linked)
		}
	}
}

// TestFilterDecidesBeforeEveryAnswerFromElsewhere: forward and grpc (the
// upstreams) and the ACME challenge answers that tls adds to every server
// block all sit after sqlitefilter, so a query over any transport is decided
// before anything else answers it. The listener options (proxyproto, quic,
// https, https3, grpc_server) run at setup only; their place does not matter.
func TestFilterDecidesBeforeEveryAnswerFromElsewhere(t *testing.T) {
	d := dnsserver.Directives
	i := slices.Index(d, Directive)
	for _, after := range []string{"tls", "forward", "grpc"} {
		if j := slices.Index(d, after); j < i {
			t.Errorf("%s at %d, sqlitefilter at %d: want %s after sqlitefilter", after, j, i, after)
		}
	}
}
