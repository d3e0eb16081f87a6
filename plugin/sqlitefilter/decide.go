package sqlitefilter

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/bloom"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/rules"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// decide runs policy.Decide over the files as they are now, with the regex
// set of rs when rs was read from shard 0's store, else with the rules read
// from the store in place. Each probe goes to its key's
// file (one file is a set of one shard) on a pooled connection taken on the
// first probe there, so a decision the key filter or the verdict cache
// answers never touches SQLite.
//
// A file that is not open fails only the decisions that probe it (and shard
// 0, whose in-memory rules every decision uses, fails them all): on_error
// applies to those. A store closed under the lookup has just been replaced
// by the watcher: the decision runs again on its successor, so a swap fails
// no query.
func (f *SQLiteFilter) decide(name string, rs *loaded, ds *decideStats) (policy.Verdict, error) {
	return f.decideFor(name, netip.Addr{}, rs, ds, false)
}

// decideFor is decide for the client at addr (the zero Addr: a client in no
// group): the lists that apply are those of its group in the lists and
// groups read with rs, and the verdict is cached under that scope. When
// keepFiltered is set the verdict is cached even when the key filters took
// it alone. The names of answers want that: an answer repeats as long as
// the cache plugin serves it, so its names are decided again and again, and
// a cache lookup costs less than the filter's walk over every suffix and
// table. The names of an answer are decided for the client that
// asked, in its scope, exactly as its query name.
func (f *SQLiteFilter) decideFor(name string, client netip.Addr, rs *loaded, ds *decideStats, keepFiltered bool) (policy.Verdict, error) {
	for {
		s0, latest := f.current()
		if rs == nil || rs.store != s0 {
			rs = latest // the caller's rules are of the file this store replaced
		}
		if s0 == nil {
			if f.cfg.sharded() {
				return policy.Verdict{}, fmt.Errorf("shard 0: %w", store.ErrNotOpen)
			}
			return policy.Verdict{}, store.ErrNotOpen
		}
		// Read before any snapshot is taken, so a verdict is never filed
		// under a generation older than the data it was decided on. A
		// cached verdict is served only for the store, generation and
		// in-memory rules it was decided with (cache.go).
		gen := f.files.generation()
		key := cacheKey{store: s0.ID(), gen: gen}
		if rs != nil {
			key.rules = rs.seq
		}
		sc := policy.Everyone
		if rs != nil && rs.set.Clients != nil {
			g := rs.set.Clients.Group(client)
			sc = rs.set.Clients.Scope(g, time.Now)
			ds.group, ds.clients = g.Name, rs.set.Clients
		}
		if keepFiltered {
			if v, ok := f.cache.get(key, sc, name); ok {
				ds.cached = true
				return v, nil
			}
		}
		d := f.scratch.Get().(*lookups)
		d.r.Reset(f.set)
		// A query name is looked up in the verdict cache only when the
		// key filters cannot decide it alone, at its first probe that
		// would reach SQLite: a name in no table, most names, is decided
		// by the filters for less than a lookup costs, and the cache
		// holds only what SQLite decided. The names of answers look
		// first (above): they are cached however they were decided.
		var under policy.Lookup = &d.r
		if !keepFiltered && f.cache != nil {
			d.gate = cacheGate{Lookup: &d.r, c: f.cache, key: key, sc: sc, name: name}
			under = &d.gate
		}
		if rs != nil { // d.src is zero: new, or cleared by release
			d.src.Regex, d.src.RegexLists = rs.set.Regex, rs.set.RegexLists
		}
		if !f.cfg.sharded() {
			// Trusted only for the generation it was read in: a new alias
			// row is never missed because of it. Of a shard set, shard 0
			// knowing no alias says nothing of the other shards.
			d.src.NoAliases = rs != nil && rs.set.NoAliases && rs.gen == s0.Generation()
		}
		// Each file's key filter answers for the keys of its shard.
		d.negatives = 0
		d.src.Lookup = d.fl.Wrap(f.filters, f.set, under, &d.negatives)
		v, err := policy.DecideFor(&d.src, name, sc)
		d.r.Release()
		ds.bloomNegatives += d.negatives
		replaced, probes := d.r.Replaced(err), d.r.Probes()
		hit := d.gate.hit
		if hit {
			v, err = d.gate.v, nil
		}
		d.release()
		f.scratch.Put(d)
		if hit {
			ds.cached = true
			return v, nil
		}
		if replaced {
			continue
		}
		// A decision the key filters took alone costs less than a cache
		// entry would (and names never asked twice would only churn the
		// cache): only what SQLite answered is kept.
		if err == nil && (probes > 0 || keepFiltered) {
			f.cache.put(key, sc, name, v)
		}
		return v, err
	}
}

// lookups is what one decision needs beside the name: the Router over the
// files, the cache gate above it, the key filters in front of them and the
// Source over all. The server
// keeps them in a pool (SQLiteFilter.scratch): made for every decided name,
// they were three allocations of each query (and of each name of a checked
// answer).
type lookups struct {
	r    store.Router
	gate cacheGate
	fl   bloom.Filtered
	src  rules.Source
	// negatives counts the key filters' answers, for the caller's
	// decideStats: a pointer to those in the pooled lookups would move
	// them, and with them the caller's, to the heap.
	negatives int
}

// release drops what d points to, so that a pooled decision keeps no store
// or rule set alive.
func (d *lookups) release() {
	d.r.Clear()
	d.gate = cacheGate{}
	d.fl.Clear()
	d.src = rules.Source{}
}

// cacheGate is the lookup under the key filters of a query name's
// decision: before the decision's first probe reaches SQLite it asks the
// verdict cache, and on a hit stops the decision there (every lookup then
// fails with errCached) and holds the cached verdict.
type cacheGate struct {
	policy.Lookup
	c       *verdictCache
	key     cacheKey
	sc      policy.Scope
	name    string
	checked bool
	hit     bool
	v       policy.Verdict
}

// errCached stops a decision whose verdict the cache holds.
var errCached = errors.New("verdict cached")

func (g *cacheGate) cached() bool {
	if !g.checked {
		g.checked = true
		g.v, g.hit = g.c.get(g.key, g.sc, g.name)
	}
	return g.hit
}

func (g *cacheGate) Lists(t schema.Table, key string) (policy.Lists, error) {
	if g.cached() {
		return 0, errCached
	}
	return g.Lookup.Lists(t, key)
}

func (g *cacheGate) AliasTarget(name string) (string, policy.Lists, error) {
	if g.cached() {
		return "", 0, errCached
	}
	return g.Lookup.AliasTarget(name)
}
