package sqlitefilter

import (
	"hash/maphash"
	"math/bits"
	"strings"
	"sync"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// verdictCache remembers recent verdicts by canonical name, with the scope
// (the lists that apply to the client) each was decided in. An entry is
// served only under the cacheKey it was decided under: the store, its
// generation and the in-memory rules (the regex set, rebuilt by the loader
// after a change). The generation changes with every committed change
// Refresh notices, and a swapped file is another store, so a cached verdict
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
//
// Its memory holds no pointer: the name and the rule's key are bytes of the
// entry, and what the verdict was decided under is numbers, so the garbage
// collector never scans it. (Entries holding strings and pointers were 18
// MB the collector marked on every cycle, at the default size: at 10 M
// rows and saturation each cycle marked for 24–26 ms on one core, against
// 4.5–10 ms without them.) Only the
// verdicts that fit are kept: a name of at most cacheNameMax bytes, decided
// by a row whose key is the name or one of its parents (or by no row), with
// no alias chain and no skipped row. The others, alias verdicts and regex
// blocks, are decided again, mostly from memory.
type verdictCache struct {
	seed   maphash.Seed
	shards []cacheShard
	sets   uint64 // sets per shard
}

// cacheKey is what a verdict was decided under: the store (its ID; of shard
// 0 for a shard set), the generation of the data (files.generation) and the
// in-memory rules (loaded.seq, 0 for none).
type cacheKey struct {
	store, gen, rules uint64
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
	under  cacheKey
	scope  policy.Scope
	lists  policy.Lists
	action policy.Action
	table  schema.Table
	// keyAt is where the rule's key begins in the name, or noRule.
	keyAt   uint8
	nameLen uint8
	name    [cacheNameMax]byte
}

// cacheNameMax is the longest name cached: most names asked are far
// shorter, and a longer one would make every entry larger.
const cacheNameMax = 64

// noRule is the keyAt of a verdict that names no row.
const noRule = 0xff

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

// holds reports whether slot e holds name.
func (e *cacheSlot) holds(name string) bool {
	return int(e.nameLen) == len(name) && string(e.name[:len(name)]) == name
}

// get returns the verdict cached for name in scope sc under k.
func (c *verdictCache) get(k cacheKey, sc policy.Scope, name string) (policy.Verdict, bool) {
	if c == nil || len(name) > cacheNameMax {
		return policy.Verdict{}, false
	}
	h, sh, first := c.locate(name)
	sh.mu.Lock()
	for i := first; i < first+cacheWays; i++ {
		if sh.hashes[i] == h && sh.slots[i].holds(name) {
			e := &sh.slots[i]
			if e.under != k || e.scope != sc {
				sh.mu.Unlock()
				return policy.Verdict{}, false
			}
			v := policy.Verdict{Action: e.action, Lists: e.lists, Rule: policy.Rule{Table: e.table}}
			if e.keyAt != noRule {
				// A substring of the caller's name: no allocation.
				v.Rule.Key = name[e.keyAt:]
			}
			sh.mu.Unlock()
			return v, true
		}
	}
	sh.mu.Unlock()
	return policy.Verdict{}, false
}

// put remembers v as the verdict for name in scope sc under k, when it
// fits in an entry (see verdictCache).
func (c *verdictCache) put(k cacheKey, sc policy.Scope, name string, v policy.Verdict) {
	if c == nil {
		return
	}
	keyAt, ok := cacheable(name, v)
	if !ok {
		return
	}
	h, sh, first := c.locate(name)
	sh.mu.Lock()
	slot := -1
	for i := first; i < first+cacheWays; i++ {
		if sh.hashes[i] == h && sh.slots[i].holds(name) {
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
	e := &sh.slots[slot]
	e.under, e.scope, e.lists, e.action, e.table, e.keyAt = k, sc, v.Lists, v.Action, v.Rule.Table, keyAt
	e.nameLen = uint8(copy(e.name[:], name))
	sh.mu.Unlock()
}

// cacheable reports whether v, the verdict of name, fits in an entry, and
// where its rule's key begins in name (noRule when it names no row).
func cacheable(name string, v policy.Verdict) (uint8, bool) {
	if len(name) > cacheNameMax || len(v.Aliases) > 0 || len(v.Skipped) > 0 || v.Target != "" || v.Answer != "" {
		return 0, false
	}
	key := v.Rule.Key
	switch {
	case key == "" && v.Rule == policy.Rule{}:
		return noRule, true
	case key == name:
		return 0, true
	case key != "" && strings.HasSuffix(name, key) && name[len(name)-len(key)-1] == '.':
		return uint8(len(name) - len(key)), true
	}
	return 0, false
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
