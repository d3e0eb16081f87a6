package sqlitefilter

import (
	"hash/maphash"
	"sync"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
)

// verdictCache remembers recent verdicts by canonical name, with the scope
// (the lists that apply to the client) each was decided in. An entry is
// served only while the store, its generation and the in-memory rules (the
// regex set, rebuilt by the loader after a change) are the ones it was decided
// under: Generation changes with every committed change Refresh notices (and
// with every file swap, which also brings a new *store.Store), so a cached verdict
// is never older than one refresh interval and the cache needs no flushing.
//
// It is split into shards, each with its own lock, so that concurrent queries
// rarely wait for one another, and each shard holds at most max/shards
// entries: when a shard is full an arbitrary entry (Go randomises map
// iteration) makes room, which is O(1) and, for the Zipf-like repetition of
// real traffic, keeps the hot names with high probability.
type verdictCache struct {
	seed     maphash.Seed
	shards   []cacheShard
	perShard int
}

// cacheShard maps a name to the verdict last decided for it, in the scope
// the entry names. The key is the name alone: a map keyed by a struct hashes
// it through a generic function whose frame grew the goroutine stack of
// every query (a query starts on a fresh, small stack), where a string key
// hashes in the runtime's own assembly. Clients of different scopes asking
// the same name take turns in its entry.
type cacheShard struct {
	mu sync.Mutex
	m  map[string]cacheEntry
	_  [40]byte // keeps neighbouring shards' locks off one cache line
}

type cacheEntry struct {
	store *store.Store
	gen   uint64
	rules *loaded // the in-memory rules (regex set) the verdict was decided with
	scope policy.Scope
	v     policy.Verdict
}

// cacheShards is the number of shards; a power of two well above the core
// count, so that two queries seldom contend for one lock.
const cacheShards = 64

// newVerdictCache returns a cache of about size entries, or nil (no cache,
// every method a no-op) when size is 0.
func newVerdictCache(size int) *verdictCache {
	if size <= 0 {
		return nil
	}
	per := (size + cacheShards - 1) / cacheShards
	c := &verdictCache{seed: maphash.MakeSeed(), shards: make([]cacheShard, cacheShards), perShard: per}
	for i := range c.shards {
		c.shards[i].m = make(map[string]cacheEntry, per)
	}
	return c
}

func (c *verdictCache) shard(name string) *cacheShard {
	return &c.shards[maphash.String(c.seed, name)&(cacheShards-1)]
}

// get returns the verdict cached for name in scope sc under store s at
// generation gen with the in-memory rules rs.
func (c *verdictCache) get(s *store.Store, gen uint64, rs *loaded, sc policy.Scope, name string) (policy.Verdict, bool) {
	if c == nil {
		return policy.Verdict{}, false
	}
	sh := c.shard(name)
	sh.mu.Lock()
	e, ok := sh.m[name]
	sh.mu.Unlock()
	if !ok || e.store != s || e.gen != gen || e.rules != rs || e.scope != sc {
		return policy.Verdict{}, false
	}
	return e.v, true
}

// put remembers v as the verdict for name in scope sc under store s at
// generation gen with the in-memory rules rs.
func (c *verdictCache) put(s *store.Store, gen uint64, rs *loaded, sc policy.Scope, name string, v policy.Verdict) {
	if c == nil {
		return
	}
	sh := c.shard(name)
	sh.mu.Lock()
	if _, ok := sh.m[name]; !ok && len(sh.m) >= c.perShard {
		for k := range sh.m {
			delete(sh.m, k)
			break
		}
	}
	sh.m[name] = cacheEntry{store: s, gen: gen, rules: rs, scope: sc, v: v}
	sh.mu.Unlock()
}
