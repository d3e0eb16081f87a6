// Package sqlitefilter is a CoreDNS plugin that allows, blocks, forwards,
// aliases and rewrites DNS traffic from rules held in a SQLite database.
package sqlitefilter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
)

const pluginName = "sqlitefilter"

var log = clog.NewWithPlugin(pluginName)

// SQLiteFilter is the plugin handler.
type SQLiteFilter struct {
	Next plugin.Handler
	cfg  Config

	// store is the open database, replaced whole when the file is swapped;
	// nil until a first open succeeded, so Ready is false until then. Of a
	// shard set, it is shard 0.
	store atomic.Pointer[Store]
	rules atomic.Pointer[rules] // nil until the loader built them (ruleset.go)
	kick  chan struct{}         // the watch tells the loader the data changed
	stop  chan struct{}
	done  sync.WaitGroup

	// files are the database files watched: one, whose store is store, or
	// the shards of a set (shardset.go), which sharded says.
	files   []*dbFile
	sharded bool

	errors *errorLog

	allowUp, blockUp *upstreamGroup // nil when not configured
	skips            *skipReporter

	cache *verdictCache // nil when cache_size is 0 (cache.go)
	keys  *keyFilter    // nil when bloom_max_memory is 0 (keyfilter.go)
}

// New returns a handler for cfg. It opens nothing: Start does.
func New(cfg Config) *SQLiteFilter {
	f := &SQLiteFilter{cfg: cfg, skips: newSkipReporter(), errors: newErrorLog(errorLogInterval)}
	f.cache = newVerdictCache(cfg.CacheSize)
	f.keys = newKeyFilter(cfg.BloomMaxBytes)
	f.newFiles()
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

// Start opens the database and starts watching it. At the server's start, a
// database that cannot be opened does not stop the server: the watcher keeps
// trying every refresh interval, queries meanwhile follow on_error, and Ready
// stays false, so a Kubernetes readiness probe holds traffic back until the
// file arrives (an init container or a sidecar may still be writing it). At a
// Corefile reload it fails the reload instead, so the running configuration
// keeps serving rather than a new one that cannot filter.
func (f *SQLiteFilter) Start() error {
	if caddy.Started() {
		if err := f.openAll(); err != nil {
			return fmt.Errorf("%w; the reload is refused and the running configuration keeps serving", err)
		}
	} else if f.resolvePattern() {
		for _, d := range f.files {
			f.reopen(d)
		}
	}
	f.stop = make(chan struct{})
	f.kick = make(chan struct{}, 1)
	f.done.Add(2)
	go f.watch()
	go f.load()
	for _, u := range []*upstreamGroup{f.allowUp, f.blockUp} {
		if u != nil {
			u.start()
		}
	}
	return nil
}

// Stop stops watching and closes the database.
func (f *SQLiteFilter) Stop() error {
	if f.stop == nil {
		return nil
	}
	close(f.stop)
	f.done.Wait()
	f.keys.close()
	f.stop = nil
	for _, u := range []*upstreamGroup{f.allowUp, f.blockUp} {
		if u != nil {
			u.stop()
		}
	}
	f.rules.Store(nil)
	var first error
	for _, d := range f.files {
		if s := d.store.Swap(nil); s != nil {
			if err := s.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// openAll opens every file, or none: on a failure it closes those it opened.
func (f *SQLiteFilter) openAll() error {
	if f.cfg.ShardPattern != "" {
		if _, err := f.matchPattern(); err != nil {
			return err
		}
		f.resolvePattern()
	}
	for _, d := range f.files {
		if err := f.open(d); err != nil {
			for _, d := range f.files {
				if s := d.store.Swap(nil); s != nil {
					s.Close()
				}
			}
			return err
		}
	}
	return nil
}

// errNotOpen is the error of a lookup before the database was ever opened.
var errNotOpen = errors.New("sqlitefilter: database not open")

// load builds the in-memory rules (ruleset.go) in the background, at once
// and then whenever the store's generation moves on (the watch kicks it) or
// the store is replaced, so that start-up never waits for them. The ticker
// retries a failed build and notices a replaced store.
func (f *SQLiteFilter) load() {
	defer f.done.Done()
	t := time.NewTicker(f.cfg.Refresh)
	defer t.Stop()
	for {
		s, cur := f.store.Load(), f.rules.Load()
		if s != nil && (cur == nil || cur.store != s || cur.gen != s.Generation()) {
			if cur != nil && cur.store != s {
				cur = nil
			}
			start := time.Now()
			r, err := loadRules(s, &f.cfg, cur, f.skips)
			switch {
			case err != nil:
				f.fail(fmt.Errorf("%w; retrying in %s", err, f.cfg.Refresh))
			default:
				f.rules.Store(r)
				if cur == nil || cur.regex != r.regex || cur.rewrite != r.rewrite {
					log.Infof("%s: loaded %d regex patterns (%d without a literal to prefilter) and %d address rewrites in %s",
						s.path, r.regex.Len(), r.regex.Unfiltered(), r.rewrite.Len(), time.Since(start).Round(time.Microsecond))
				}
			}
		}
		select {
		case <-f.stop:
			return
		case <-f.kick:
		case <-t.C:
		}
	}
}

// ServeDNS implements plugin.Handler.
func (f *SQLiteFilter) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	if len(r.Question) != 1 || r.Opcode != dns.OpcodeQuery || r.Question[0].Qclass != dns.ClassINET {
		return plugin.NextOrFailure(f.Name(), f.Next, ctx, w, r)
	}
	state := request.Request{W: w, Req: r}
	rs := f.currentRules()
	server, view := metrics.WithServer(ctx), metrics.WithView(ctx)
	start := time.Now()
	var ds decideStats
	v, err := f.decide(Canonical(state.QName()), rs, &ds)
	f.observe(server, view, time.Since(start), &ds)
	record(ctx, v, err)
	if err != nil {
		dbErrorCount.WithLabelValues(server, view).Inc()
		if !errors.Is(err, errNotOpen) { // the watcher logs why it is not open
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
	requestCount.WithLabelValues(server, view, v.Action.String()).Inc()
	switch v.Action {
	case ActionBlock:
		return f.serveBlocked(w, r)
	case ActionBlockUpstream:
		switch {
		case f.blockUp == nil:
			return f.serveBlocked(w, r)
		case len(v.Aliases) > 0:
			// The target goes to the block upstream when the chain
			// asks the server for it.
			return f.serveAlias(ctx, w, r, v)
		}
		return f.blockUp.serve(ctx, f.rewriter(ctx, w, rs), r)
	case ActionAlias:
		// The answer for the target was rewritten on its own way
		// through the chain: no second wrapper here.
		return f.serveAlias(ctx, w, r, v)
	case ActionAliasFail:
		return dns.RcodeServerFailure, nil
	case ActionAllow:
		if f.allowUp != nil {
			return f.allowUp.serve(ctx, f.rewriter(ctx, w, rs), r)
		}
	}
	return plugin.NextOrFailure(f.Name(), f.Next, ctx, f.rewriter(ctx, w, rs), r)
}

// serveBlocked writes the blocked answer (SPEC §4). The reply is written,
// even when it is REFUSED, so the server must not write another.
func (f *SQLiteFilter) serveBlocked(w dns.ResponseWriter, r *dns.Msg) (int, error) {
	w.WriteMsg(blockedReply(r, &f.cfg))
	return dns.RcodeSuccess, nil
}

// rewriter wraps w so the answer's addresses are rewritten, when there are
// rewrites.
func (f *SQLiteFilter) rewriter(ctx context.Context, w dns.ResponseWriter, rs *rules) dns.ResponseWriter {
	if rs == nil || rs.rewrite.Len() == 0 {
		return w
	}
	c := addrRewriteCount.WithLabelValues(metrics.WithServer(ctx), metrics.WithView(ctx))
	return &rewriteWriter{ResponseWriter: w, rw: rs.rewrite, n: func(n int) { c.Add(float64(n)) }}
}

// decide runs Decide on a pooled connection of the current store, with the
// regex set of rs (none while it is being built). A store closed under the
// lookup has just been replaced by the watcher: the lookup runs again on its
// successor, so a swap fails no query.
func (f *SQLiteFilter) decide(name string, rs *rules, ds *decideStats) (Verdict, error) {
	if f.sharded {
		return f.decideShards(name, rs, ds)
	}
	for {
		s := f.store.Load()
		if s == nil {
			return Verdict{}, errNotOpen
		}
		if rs != nil && rs.store != s {
			rs = nil // read from the file this store replaced
		}
		// A cached verdict is served only for the store, generation and
		// in-memory rules it was decided with (cache.go).
		gen := s.Generation()
		if v, ok := f.cache.get(s, gen, rs, name); ok {
			ds.cached = true
			return v, nil
		}
		src := withRules{}
		if rs != nil {
			src.re = rs.regex
			// Trusted only for the generation it was read in: a new alias
			// row is never missed because of it.
			src.noAliases = rs.noAliases && rs.store == s && rs.gen == s.Generation()
		}
		var v Verdict
		err := s.View(func(l Lookup) error {
			src.Lookup = f.keys.wrap(s, gen, l, &ds.bloomNegatives)
			var err error
			v, err = Decide(src, name)
			return err
		})
		if errors.Is(err, errClosed) && f.store.Load() != s {
			continue
		}
		if err == nil {
			f.cache.put(s, gen, rs, name, v)
		}
		return v, err
	}
}

// currentRules returns the in-memory rules if they were read from the store
// in place. After a swap the old file's regex set and rewrites must not apply
// to the new file's data: until rules of the new file are built, none apply,
// as at start-up (the watcher builds them before the swap, so this is a
// window of a few queries at most).
func (f *SQLiteFilter) currentRules() *rules {
	rs := f.rules.Load()
	if rs == nil || rs.store != f.store.Load() {
		return nil
	}
	return rs
}

// withRules is the Source of a decision: the rows in SQLite and what the
// loader knows in memory (the regex set, whether there are aliases).
type withRules struct {
	Lookup
	re        *RegexSet
	noAliases bool
}

func (s withRules) MatchRegex(name string) (string, bool) { return s.re.Match(name) }

func (s withRules) AliasTarget(name string) (string, bool, error) {
	if s.noAliases {
		return "", false, nil
	}
	return s.Lookup.AliasTarget(name)
}
