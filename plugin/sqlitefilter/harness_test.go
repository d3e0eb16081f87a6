package sqlitefilter

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"path/filepath"
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

	"github.com/sqlitefilter/sqlitefilter/schema"
)

func init() { clog.Discard() }

// Row is one database row of a test, in layout-neutral terms.
type Row struct {
	Table       schema.Table
	Key, Target string
}

// NewDBFunc creates a database holding rows and returns its path. The
// conformance suite takes one, so it can run against another layout.
type NewDBFunc func(t testing.TB, rows []Row) string

// perTypeDB creates a per-type database (schema.Create) with rows.
func perTypeDB(t testing.TB, rows []Row) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.db")
	if err := schema.Create(path); err != nil {
		t.Fatal(err)
	}
	insertRows(t, path, rows)
	return path
}

// normalizedDB creates a normalized database (domains + records) and inserts
// rows through its legacy-named views, as a legacy script would.
func normalizedDB(t testing.TB, rows []Row) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.db")
	if err := schema.CreateLayout(path, schema.Normalized); err != nil {
		t.Fatal(err)
	}
	insertRows(t, path, rows)
	return path
}

func insertRows(t testing.TB, path string, rows []Row) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, r := range rows {
		q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (?)", r.Table.Name(), r.Table.KeyColumn())
		args := []any{r.Key}
		if c := r.Table.TargetColumn(); c != "" {
			q = fmt.Sprintf("INSERT INTO %s (%s, %s) VALUES (?, ?)", r.Table.Name(), r.Table.KeyColumn(), c)
			args = append(args, r.Target)
		}
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// Row constructors, to keep the case tables short.
func allow(keys ...string) []Row       { return keyRows(schema.Allow, keys) }
func exact(keys ...string) []Row       { return keyRows(schema.BlockExact, keys) }
func wildcard(keys ...string) []Row    { return keyRows(schema.BlockWildcard, keys) }
func regexRows(keys ...string) []Row   { return keyRows(schema.BlockRegex, keys) }
func dnsBlock(keys ...string) []Row    { return keyRows(schema.DNSBlock, keys) }
func aliasRow(src, dst string) []Row   { return []Row{{schema.Alias, src, dst}} }
func rewrite4(src, dst string) []Row   { return []Row{{schema.RewriteV4, src, dst}} }
func rewrite6(src, dst string) []Row   { return []Row{{schema.RewriteV6, src, dst}} }
func rowsOf(sets ...[]Row) (out []Row) { return concatRows(sets) }

func keyRows(t schema.Table, keys []string) []Row {
	out := make([]Row, len(keys))
	for i, k := range keys {
		out[i] = Row{Table: t, Key: k}
	}
	return out
}

func concatRows(sets [][]Row) (out []Row) {
	for _, s := range sets {
		out = append(out, s...)
	}
	return out
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
	waitLoaded(t, f)
	next := &fakeNext{}
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

// waitLoaded waits for the background build of the in-memory rules.
func waitLoaded(t testing.TB, f *SQLiteFilter) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); f.rules.Load() == nil; {
		if time.Now().After(deadline) {
			t.Fatal("in-memory rules were not loaded")
		}
		time.Sleep(5 * time.Millisecond)
	}
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
// answer can be written down: see answerUpstream.
type fakeNext struct{ calls atomic.Int32 }

func (n *fakeNext) Name() string { return "fakenext" }

func (n *fakeNext) ServeDNS(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	n.calls.Add(1)
	w.WriteMsg(answerUpstream(r, "192.0.2.1"))
	return dns.RcodeSuccess, nil
}

const upstreamSOA = "test. 300 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300"

// upstreamA holds the addresses some names resolve to; every other name has
// the A record of the responder and 2001:db8::1.
var upstreamA = map[string]string{
	"a.rw.test.": "10.1.2.3",
	"b.rw.test.": "10.1.9.9",
	"c.rw.test.": "10.200.0.1",
	"d.rw.test.": "11.0.0.1",
}

// answerUpstream is the recipe of the fake resolvers: names starting with
// "nx" do not exist; A, AAAA, TXT, MX, HTTPS, SVCB and ANY have data; other
// types are empty. a is the A address of names not in upstreamA.
func answerUpstream(r *dns.Msg, a string) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = true
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	if strings.HasPrefix(name, "nx") {
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{test.SOA(upstreamSOA)}
		return m
	}
	if v, ok := upstreamA[name]; ok {
		a = v
	}
	rr := func(s string) dns.RR {
		x, err := dns.NewRR(q.Name + " 300 IN " + s)
		if err != nil {
			panic(err)
		}
		return x
	}
	switch q.Qtype {
	case dns.TypeA:
		m.Answer = []dns.RR{rr("A " + a)}
	case dns.TypeAAAA:
		m.Answer = []dns.RR{rr("AAAA 2001:db8::1")}
	case dns.TypeTXT:
		m.Answer = []dns.RR{rr(`TXT "upstream"`)}
	case dns.TypeMX:
		m.Answer = []dns.RR{rr("MX 10 mail.test.")}
	case dns.TypeHTTPS:
		m.Answer = []dns.RR{rr("HTTPS 1 . alpn=h2 ipv4hint=192.0.2.1")}
	case dns.TypeSVCB:
		m.Answer = []dns.RR{rr("SVCB 1 svc.test. alpn=h2")}
	case dns.TypeANY:
		m.Answer = []dns.RR{rr("A " + a), rr(`TXT "upstream"`)}
	default:
		m.Ns = []dns.RR{test.SOA(upstreamSOA)}
	}
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), opt.Do())
	}
	return m
}

// fakeUpstream is a DNS server on loopback (UDP and TCP) answering with
// answerUpstream. Unlike dnstest.NewServer it has its own handler, not the
// process-wide mux, and listens on 127.0.0.1 only.
type fakeUpstream struct {
	Addr    string
	queries atomic.Int32
	tcp     atomic.Int32
	servers []*dns.Server
}

func newFakeUpstream(t *testing.T, a string) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		u.queries.Add(1)
		if w.RemoteAddr().Network() == "tcp" {
			u.tcp.Add(1)
		}
		w.WriteMsg(answerUpstream(r, a))
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", l.Addr().String())
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	u.Addr = l.Addr().String()
	started := make(chan struct{}, 2)
	notify := func() { started <- struct{}{} }
	u.servers = []*dns.Server{
		{Listener: l, Handler: h, NotifyStartedFunc: notify},
		{PacketConn: pc, Handler: h, NotifyStartedFunc: notify},
	}
	for _, s := range u.servers {
		go s.ActivateAndServe()
	}
	<-started
	<-started
	t.Cleanup(func() {
		for _, s := range u.servers {
			s.Shutdown()
		}
	})
	return u
}

// deadAddr returns a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.LocalAddr().String()
	l.Close()
	return addr
}
