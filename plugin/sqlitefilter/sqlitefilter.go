// Package sqlitefilter is a CoreDNS plugin that allows, blocks, forwards,
// aliases and rewrites DNS traffic from rules held in a SQLite database.
//
// This package is the CoreDNS glue: the Corefile, ServeDNS and the answers it
// writes, the watcher of the files, metrics, metadata and readiness. The
// decision is in policy, the database in store, the in-memory rules in rules
// and the key filter in bloom.
package sqlitefilter

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/bloom"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
)

const pluginName = "sqlitefilter"

var log = clog.NewWithPlugin(pluginName)

// SQLiteFilter is the plugin handler.
type SQLiteFilter struct {
	Next plugin.Handler
	cfg  Config

	// files are the database files read and watched, in shard order: the
	// only one, or the shards of a set (files.go). Each one's store is nil
	// until a first open succeeded, and replaced whole when the file is
	// swapped.
	files files
	set   store.Set              // files as a store.Set, boxed once: a slice made an interface is an allocation
	rules atomic.Pointer[loaded] // nil until the loader built them (loader.go)
	// opened and ruleSets count the stores opened and the rule sets
	// built, naming each (store.Options.ID, loaded.seq).
	opened, ruleSets atomic.Uint64
	kick             chan struct{} // the watch tells the loader the data changed
	built            chan struct{} // a key filter's build ended: a file may wait to be published (watch.go)
	stop             chan struct{}
	done             sync.WaitGroup
	retiring         sync.WaitGroup // stores replaced, being closed (retire.go)

	errors *errorLog

	allowUp, blockUp *upstreamGroup // nil when not configured
	skips            *skipReporter

	// warm: the server was once ready, and stays so (ready.go).
	warm atomic.Bool

	cache *verdictCache // nil when cache_size is 0 (cache.go)
	// filters are the key filters of the files, by shard; nil ones when
	// bloom_max_memory is 0.
	filters []*bloom.KeyFilter
	// scratch pools the *lookups of decideFor.
	scratch sync.Pool
}

// New returns a handler for cfg. It opens nothing: Start does.
func New(cfg Config) *SQLiteFilter {
	f := &SQLiteFilter{cfg: cfg, skips: newSkipReporter(), errors: newErrorLog(errorLogInterval)}
	f.cache = newVerdictCache(cfg.CacheSize)
	f.scratch.New = func() any { return new(lookups) }
	f.files = newFiles(cfg)
	f.set = f.files
	f.filters = make([]*bloom.KeyFilter, len(f.files))
	f.built = make(chan struct{}, 1)
	gate := make(chan struct{}, 1) // the paced builds of all shards together
	for i := range f.filters {
		f.filters[i] = bloom.New(cfg.BloomMaxBytes, log)
		f.filters[i].Notify(f.built)
		f.filters[i].ShareGate(gate)
	}
	if len(cfg.AllowUpstream) > 0 {
		f.allowUp = newUpstreamGroup("allow_upstream", cfg.AllowUpstream)
	}
	if len(cfg.BlockUpstream) > 0 {
		f.blockUp = newUpstreamGroup("block_upstream", cfg.BlockUpstream)
	}
	return f
}

// Name implements plugin.Handler.
func (f *SQLiteFilter) Name() string { return pluginName }

// ServeDNS implements plugin.Handler.
func (f *SQLiteFilter) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	if len(r.Question) != 1 || r.Opcode != dns.OpcodeQuery || !decidedClass(r.Question[0].Qclass) {
		return plugin.NextOrFailure(f.Name(), f.Next, ctx, w, r)
	}
	state := request.Request{W: w, Req: r}
	rs := f.currentRules()
	server, view := metrics.WithServer(ctx), metrics.WithView(ctx)
	start := time.Now()
	var stats decideStats
	ds := &stats
	var client netip.Addr
	if rs != nil && rs.set.Clients != nil {
		// Only a database with groups needs to know who asks.
		client = clientAddr(w, r, f.cfg.TrustedForwarders)
	}
	name := policy.Canonical(state.QName())
	v, err := f.decideFor(name, client, rs, ds, false)
	f.observe(server, view, time.Since(start), ds)
	record(ctx, v, err, ds)
	if err != nil {
		dbErrorCount.WithLabelValues(server, view).Inc()
		if !errors.Is(err, store.ErrNotOpen) { // the watcher logs why it is not open
			f.errors.Log(fmt.Errorf("look up %s: %w", f.cfg.Path, err))
		}
		if f.cfg.OnError == FailOpen {
			return plugin.NextOrFailure(f.Name(), f.Next, ctx, w, r)
		}
		// Nothing written: the server answers SERVFAIL. The error is logged
		// above at a bounded rate rather than by the errors plugin per query.
		return dns.RcodeServerFailure, nil
	}
	for _, s := range v.Skipped {
		f.skips.report(s, "")
	}
	aw, check := f.answerWriter(ctx, w, r, rs, v, name, client, ds)
	rcode, err := f.serve(ctx, w, aw, r, v)
	final := v
	if check != nil && check.result.Action != policy.ActionPass {
		final = check.result // the answer was checked, and maybe blocked
	}
	requestCount.WithLabelValues(server, view, final.Action.String(), metricList(final, ds)).Inc()
	return rcode, err
}

// serve answers r as its verdict v says: w is the client's writer, aw the
// one answers from elsewhere are written to (checked and rewritten).
func (f *SQLiteFilter) serve(ctx context.Context, w, aw dns.ResponseWriter, r *dns.Msg, v policy.Verdict) (int, error) {
	switch v.Action {
	case policy.ActionBlock:
		return f.serveBlocked(w, r)
	case policy.ActionBlockUpstream:
		switch {
		case f.blockUp == nil:
			return f.serveBlocked(w, r)
		case len(v.Aliases) > 0:
			// The target goes to the block upstream when the chain
			// asks the server for it.
			return f.serveAlias(ctx, aw, r, v)
		}
		return f.blockUp.serve(ctx, aw, r)
	case policy.ActionAlias:
		return f.serveAlias(ctx, aw, r, v)
	case policy.ActionAliasFail:
		return dns.RcodeServerFailure, nil
	case policy.ActionAllow:
		if f.allowUp != nil {
			return f.allowUp.serve(ctx, aw, r)
		}
	}
	return plugin.NextOrFailure(f.Name(), f.Next, ctx, aw, r)
}

// decidedClass reports whether queries of class c are decided. Class ANY
// asks for the records of every class, IN among them, so a blocked name must
// not come back through it; CHAOS and HESIOD hold no names of the Internet
// (version.bind, id.server) and pass unchanged.
func decidedClass(c uint16) bool { return c == dns.ClassINET || c == dns.ClassANY }

// serveBlocked writes the blocked answer. The reply is written,
// even when it is REFUSED, so the server must not write another.
func (f *SQLiteFilter) serveBlocked(w dns.ResponseWriter, r *dns.Msg) (int, error) {
	w.WriteMsg(blockedReply(r, &f.cfg))
	return dns.RcodeSuccess, nil
}

// answerWriter wraps w, for the answer to r (canonical name qname, decided
// as v) that comes from elsewhere, so that it is checked (answer_check, for
// the verdicts whose answer is checked) and its addresses rewritten (when
// there are rewrites). It returns w itself when there is nothing to do, and
// the check, which holds its outcome once the answer is written, or nil. The
// lookup of a target this instance aliased gets neither: the instance checks
// and rewrites the whole aliased answer itself (alias.go). The names and
// addresses of the answer are decided for client (the zero Addr: a client
// in no group) in its scope, as the query name was; ds is the query's, whose
// group names the lists of the verdict.
func (f *SQLiteFilter) answerWriter(ctx context.Context, w dns.ResponseWriter, r *dns.Msg, rs *loaded, v policy.Verdict, qname string, client netip.Addr, ds *decideStats) (dns.ResponseWriter, *answerCheck) {
	if rs == nil || f.aliasedBy(ctx) {
		return w, nil
	}
	rewrite := rs.set.Rewrite.Len() > 0
	check := f.cfg.AnswerCheck && v.ChecksAnswer()
	if !rewrite && !check {
		return w, nil
	}
	q := new(answerState)
	aw := &q.w
	aw.ResponseWriter = w
	if rewrite {
		aw.rw, aw.ctx = rs.set.Rewrite, ctx
	}
	if check {
		aw.check = &q.check
		*aw.check = answerCheck{f: f, ctx: ctx, r: r, qname: qname, rs: rs, v: v, client: client, ds: *ds}
	}
	return aw, aw.check
}

// answerState is the writer that checks and rewrites one query's answer,
// and its check: they point to one another and outlive the call that makes
// them, so each would be an allocation of its own; together they are one.
type answerState struct {
	w     answerWriter
	check answerCheck
}
