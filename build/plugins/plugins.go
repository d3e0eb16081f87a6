// Package plugins assembles the custom CoreDNS: it links the in-tree plugins
// an operator needs plus sqlitefilter, and puts the sqlitefilter directive in
// its place in the plugin chain. The coredns main package and the end-to-end
// tests import it, so both build the same server.
package plugins

import (
	"fmt"
	"slices"

	"github.com/coredns/coredns/core/dnsserver"

	// The in-tree plugins, each registering itself in init. kubernetes (with
	// autopath and k8s_external) lets the image replace cluster DNS. The
	// tls://, https://, https3://, quic:// and grpc:// server blocks are
	// built into dnsserver; tls gives them their certificate, quic, https,
	// https3 and grpc_server tune their listeners, and proxyproto takes the
	// client address from a load balancer's PROXY header, which is the only
	// way behind a proxy to keep client groups working. grpc forwards to
	// gRPC upstreams, as forward does to plain DNS ones.
	_ "github.com/coredns/coredns/plugin/acl"
	_ "github.com/coredns/coredns/plugin/any"
	_ "github.com/coredns/coredns/plugin/autopath"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/bufsize"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/cancel"
	_ "github.com/coredns/coredns/plugin/chaos"
	_ "github.com/coredns/coredns/plugin/debug"
	_ "github.com/coredns/coredns/plugin/dnstap"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/file"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/grpc"
	_ "github.com/coredns/coredns/plugin/grpc_server"
	_ "github.com/coredns/coredns/plugin/header"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/https"
	_ "github.com/coredns/coredns/plugin/https3"
	_ "github.com/coredns/coredns/plugin/k8s_external"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/local"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metadata"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/minimal"
	_ "github.com/coredns/coredns/plugin/nsid"
	_ "github.com/coredns/coredns/plugin/pprof"
	_ "github.com/coredns/coredns/plugin/proxyproto"
	_ "github.com/coredns/coredns/plugin/quic"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/rewrite"
	_ "github.com/coredns/coredns/plugin/root"
	_ "github.com/coredns/coredns/plugin/template"
	_ "github.com/coredns/coredns/plugin/timeouts"
	_ "github.com/coredns/coredns/plugin/tls"
	_ "github.com/coredns/coredns/plugin/view"
	_ "github.com/coredns/coredns/plugin/whoami"

	_ "github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter"
)

// Directive is the Corefile directive of the plugin.
const Directive = "sqlitefilter"

func init() {
	d, err := InsertDirective(dnsserver.Directives)
	if err != nil {
		panic(err)
	}
	dnsserver.Directives = d
}

// InsertDirective returns directives with sqlitefilter right after acl and so
// before cache: every query is decided afresh (a database edit applies at
// once, a block answer is never cached for other clients), and the address
// rewrite wraps cache so cached answers are rewritten too. It fails when the
// anchors are gone, so a CoreDNS upgrade that renames them breaks the build
// instead of silently moving the filter.
func InsertDirective(directives []string) ([]string, error) {
	if slices.Contains(directives, Directive) {
		return nil, fmt.Errorf("directive %q is already in the list", Directive)
	}
	acl, cache := slices.Index(directives, "acl"), slices.Index(directives, "cache")
	if acl < 0 || cache < 0 || cache < acl {
		return nil, fmt.Errorf("cannot place %q: want directives acl before cache, found acl at %d and cache at %d", Directive, acl, cache)
	}
	return slices.Insert(slices.Clone(directives), acl+1, Directive), nil
}
