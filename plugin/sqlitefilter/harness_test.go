package sqlitefilter

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/cache"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
)

func init() { clog.Discard() }

// Short names for the row constructors, to keep the case tables readable.
var (
	allow     = testkit.Allow
	exact     = testkit.BlockExact
	wildcard  = testkit.BlockWildcard
	regexRows = testkit.BlockRegex
	dnsBlock  = testkit.DNSBlock
	aliasRow  = testkit.Alias
	rewrite4  = testkit.RewriteV4
	rewrite6  = testkit.RewriteV6
	rowsOf    = testkit.Rows
)

// recipe is how the fake resolvers answer: testkit.DefaultRecipe with A
// address a, except the names of the CIDR rewrite cases, which have
// addresses of their own, and the names of the answer checks
// (answer_conformance_test.go), which lead elsewhere.
func recipe(a string) testkit.Recipe {
	rc := testkit.DefaultRecipe(a)
	rc.ByName = map[string]map[uint16]string{
		"a.rw.test.": {dns.TypeA: "10.1.2.3"},
		"b.rw.test.": {dns.TypeA: "10.1.9.9"},
		"c.rw.test.": {dns.TypeA: "10.200.0.1"},
		"d.rw.test.": {dns.TypeA: "11.0.0.1"},
	}
	rc.CNAME = map[string]string{}
	rc.DNAME = map[string]string{}
	addAnswerRecipe(&rc)
	return rc
}

// chain is an in-process server: sqlitefilter, optionally cache, then a fake
// next plugin. Queries go through dnsserver.Server.ServeDNS, so the
// plugin/pkg/upstream lookups of aliases re-enter the chain as in the binary.
type chain struct {
	srv  *dnsserver.Server
	f    *SQLiteFilter
	next *fakeNext
}

// newChain parses `sqlitefilter PATH { options }`, starts the plugin and waits
// until its in-memory rules are loaded.
func newChain(t testing.TB, path, options string, withCache bool) *chain {
	t.Helper()
	if !strings.Contains(options, "pool") {
		// A few connections serve an in-process test as well as the default
		// 32, and a shard set of many cases opens them all.
		options = "pool 4\n" + options
	}
	c := caddy.NewTestController("dns", "sqlitefilter "+path+" {\n"+options+"\n}")
	cfg, err := parse(c)
	if err != nil {
		t.Fatalf("parse options %q: %v", options, err)
	}
	f := New(cfg)
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Stop() })
	testkit.Eventually(t, "the in-memory rules", 20*time.Second, func() bool { return f.rules.Load() != nil })
	next := &fakeNext{recipe: recipe("192.0.2.1")}
	plugins := []plugin.Plugin{func(n plugin.Handler) plugin.Handler { f.Next = n; return f }}
	if withCache {
		plugins = append(plugins, func(n plugin.Handler) plugin.Handler { c := cache.New(); c.Next = n; return c })
	}
	plugins = append(plugins, func(plugin.Handler) plugin.Handler { return next })
	srv, err := dnsserver.NewServer("dns://127.0.0.1:0", []*dnsserver.Config{{Zone: ".", Plugin: plugins}})
	if err != nil {
		t.Fatal(err)
	}
	return &chain{srv: srv, f: f, next: next}
}

// query sends m through the server as a client over UDP or TCP would.
func (c *chain) query(m *dns.Msg, tcp bool) *dns.Msg {
	ctx := context.WithValue(context.Background(), dnsserver.Key{}, c.srv)
	ctx = context.WithValue(ctx, dnsserver.LoopKey{}, 0)
	rec := dnstest.NewRecorder(&test.ResponseWriter{TCP: tcp})
	c.srv.ServeDNS(ctx, rec, m)
	return rec.Msg
}

// fakeNext stands for the resolver behind sqlitefilter (forward in
// production). It answers every name from a fixed recipe, so an expected
// answer can be written down.
type fakeNext struct {
	recipe testkit.Recipe
	calls  atomic.Int32
	// edit, when set before the first query, changes each reply: flags,
	// signatures, truncation, as an upstream may send them.
	edit func(w dns.ResponseWriter, m *dns.Msg)
}

// Name is forward's: like forward, it makes the server pass queries of
// classes other than IN on to the plugins rather than refuse them.
func (n *fakeNext) Name() string { return "forward" }

func (n *fakeNext) ServeDNS(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	n.calls.Add(1)
	m := n.recipe.Reply(r)
	if n.edit != nil {
		n.edit(w, m)
	}
	w.WriteMsg(m)
	return dns.RcodeSuccess, nil
}
