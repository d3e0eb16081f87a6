package sqlitefilter

import (
	"hash/maphash"
	"math/bits"
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
// rarely wait for one another. A shard is a 4-way set-associative table of
// fixed size: a name has 4 slots it may be in, chosen by its hash, and a
// new name takes an empty one or evicts one of the 4 in turn. A lookup reads
// at most 4 slots whatever the traffic. (A Go map kept at its size by
// deleting an entry for each new one fills with deleted-slot markers under
// names never asked twice, and its misses, then most lookups, walk ever
// longer: 1.1 µs for a miss and a put, and 10 % of the server's CPU.)
type verdictCache struct {
	seed   maphash.Seed
	shards []cacheShard
	sets   uint64 // sets per shard
}

type cacheShard struct {
	mu sync.Mutex
	// hashes are the hashes of the names in slots, apart so that the 4 of
	// a set share one cache line: a miss (most lookups under distinct
	// names) reads that line and no slot. 0 marks an empty slot (a name
	// whose hash is 0 is filed under 1, and compared by name as any other).
	hashes []uint64
	slots  []cacheSlot // sets × cacheWays
	turn   uint8       // the next way to evict
	_      [24]byte    // keeps neighbouring shards' locks off one cache line
}

// cacheSlot is a name's entry.
type cacheSlot struct {
	name string
	e    cacheEntry
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

// cacheWays is the number of slots a name may be in.
const cacheWays = 4

// newVerdictCache returns a cache of size entries (rounded up to a whole
// number of sets per shard, 256 at most), allocated at once, or nil (no cache, every method a no-op) when size is 0.
func newVerdictCache(size int) *verdictCache {
	if size <= 0 {
		return nil
	}
	sets := uint64((size + cacheShards*cacheWays - 1) / (cacheShards * cacheWays))
	c := &verdictCache{seed: maphash.MakeSeed(), shards: make([]cacheShard, cacheShards), sets: sets}
	for i := range c.shards {
		c.shards[i].hashes = make([]uint64, sets*cacheWays)
		c.shards[i].slots = make([]cacheSlot, sets*cacheWays)
	}
	return c
}

// locate returns name's hash (never 0), shard and first slot of its set.
func (c *verdictCache) locate(name string) (uint64, *cacheShard, uint64) {
	h := maphash.String(c.seed, name)
	if h == 0 {
		h = 1
	}
	// The shard from the low bits, the set from the high ones
	// (multiply-shift maps them onto [0, sets) without a division).
	set, _ := bits.Mul64(h, c.sets)
	return h, &c.shards[h&(cacheShards-1)], set * cacheWays
}

// get returns the verdict cached for name in scope sc under store s at
// generation gen with the in-memory rules rs.
func (c *verdictCache) get(s *store.Store, gen uint64, rs *loaded, sc policy.Scope, name string) (policy.Verdict, bool) {
	if c == nil {
		return policy.Verdict{}, false
	}
	h, sh, first := c.locate(name)
	sh.mu.Lock()
	for i := first; i < first+cacheWays; i++ {
		if sh.hashes[i] == h && sh.slots[i].name == name {
			e := sh.slots[i].e
			sh.mu.Unlock()
			if e.store != s || e.gen != gen || e.rules != rs || e.scope != sc {
				return policy.Verdict{}, false
			}
			return e.v, true
		}
	}
	sh.mu.Unlock()
	return policy.Verdict{}, false
}

// put remembers v as the verdict for name in scope sc under store s at
// generation gen with the in-memory rules rs.
func (c *verdictCache) put(s *store.Store, gen uint64, rs *loaded, sc policy.Scope, name string, v policy.Verdict) {
	if c == nil {
		return
	}
	h, sh, first := c.locate(name)
	sh.mu.Lock()
	slot := -1
	for i := first; i < first+cacheWays; i++ {
		if sh.hashes[i] == h && sh.slots[i].name == name {
			slot = int(i)
			break
		}
		if sh.hashes[i] == 0 && slot < 0 {
			slot = int(i)
		}
	}
	if slot < 0 {
		slot = int(first) + int(sh.turn%cacheWays)
		sh.turn++
	}
	sh.hashes[slot] = h
	sh.slots[slot] = cacheSlot{name: name, e: cacheEntry{store: s, gen: gen, rules: rs, scope: sc, v: v}}
	sh.mu.Unlock()
}

// len is how many entries the cache holds.
func (c *verdictCache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for _, h := range sh.hashes {
			if h != 0 {
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n
}
