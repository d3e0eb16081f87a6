package sqlitefilter

import (
	"errors"
	"fmt"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// Shards is one rule database split over several files by schema.Split: the
// row of a key lives in shard schema.ShardOf(key, len(shards)), and the
// tables held in memory (block_regex, the address rewrites) in shard 0. A
// decision probes each suffix of the name in that suffix's own shard, so its
// verdict is the one the unsplit file gives.
type Shards []*Store

// OpenShards opens every shard with the same options, in order: the order
// of paths is the shard number.
func OpenShards(paths []string, opts StoreOptions) (Shards, error) {
	if len(paths) == 0 {
		return nil, errors.New("open shards: no file")
	}
	sh := make(Shards, 0, len(paths))
	for _, p := range paths {
		s, err := OpenStore(p, opts)
		if err != nil {
			sh.Close()
			return nil, err
		}
		sh = append(sh, s)
	}
	return sh, nil
}

// Close closes every shard and returns the first error.
func (sh Shards) Close() error {
	var first error
	for _, s := range sh {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// View runs fn with a Lookup that sends each key to its shard. It holds one
// connection of every shard for the whole decision, so a decision reads one
// snapshot of each file, as View on a single Store does.
func (sh Shards) View(fn func(Lookup) error) error {
	lookups := make(shardedLookup, len(sh))
	var hold func(i int) error
	hold = func(i int) error {
		if i == len(sh) {
			return fn(lookups)
		}
		return sh[i].View(func(l Lookup) error {
			lookups[i] = l
			return hold(i + 1)
		})
	}
	return hold(0)
}

// ExplainShards is Explain over shards: the in-memory rules come from shard
// 0, every probe from the shard of its key.
func ExplainShards(sh Shards, cfg Config, name string) (Verdict, error) {
	if len(sh) == 0 {
		return Verdict{}, errors.New("explain: no shard")
	}
	rs, err := loadRules(sh[0], &cfg, nil, newSkipReporter())
	if err != nil {
		return Verdict{}, err
	}
	var v Verdict
	err = sh.View(func(l Lookup) error {
		var err error
		// noAliases stays false: shard 0 knowing no alias says nothing
		// of the other shards.
		v, err = Decide(withRules{Lookup: l, re: rs.regex}, Canonical(name))
		return err
	})
	return v, err
}

// shardedLookup routes every question to the shard of its key.
type shardedLookup []Lookup

func (s shardedLookup) Has(t schema.Table, key string) (bool, error) {
	return s[schema.ShardOf(key, len(s))].Has(t, key)
}

func (s shardedLookup) AliasTarget(name string) (string, bool, error) {
	return s[schema.ShardOf(name, len(s))].AliasTarget(name)
}

// decideShards is decide over the shard set of the handler: the in-memory
// rules are shard 0's, each probe goes to the shard of its key. A shard
// that is not open fails only the decisions that probe it (and shard 0,
// whose in-memory rules every decision uses, fails them all): on_error
// applies to those. A shard closed under the lookup has just been replaced
// by the watcher: the decision runs again on its successor.
func (f *SQLiteFilter) decideShards(name string, rs *rules, ds *decideStats) (Verdict, error) {
	for {
		s0 := f.store.Load()
		if s0 == nil {
			return Verdict{}, fmt.Errorf("shard 0: %w", errNotOpen)
		}
		if rs != nil && rs.store != s0 {
			rs = nil // read from the file this store replaced
		}
		// Read before any snapshot is taken, so a verdict is never filed
		// under a generation older than the data it was decided on.
		gen := f.dataGeneration()
		if v, ok := f.cache.get(s0, gen, rs, name); ok {
			ds.cached = true
			return v, nil
		}
		l := &shardConns{files: f.files, held: make([]source, len(f.files))}
		// noAliases stays false: shard 0 knowing no alias says nothing of
		// the other shards.
		src := withRules{Lookup: l}
		if rs != nil {
			src.re = rs.regex
		}
		v, err := Decide(src, name)
		l.release()
		if errors.Is(err, errClosed) && l.closed != nil && l.files[l.closedShard].store.Load() != l.closed {
			continue
		}
		if err == nil {
			f.cache.put(s0, gen, rs, name, v)
		}
		return v, err
	}
}

// shardConns is the Lookup of one decision over a shard set: each key goes
// to its shard, whose pooled connection is taken on the first probe there
// and kept, with its snapshot, until the decision ends.
//
// It never waits for a pool while it holds a connection of another shard:
// two decisions each holding what the other waits for would otherwise
// deadlock once the pools run dry. When a pool is empty it gives back what
// it holds first (the probes already made stand; later probes of those
// shards read a snapshot at least as new).
type shardConns struct {
	files       []*dbFile
	held        []source // by shard; the zero source where none is held
	closed      *Store   // a store found closed, and its shard
	closedShard int
}

// source returns the lookup of key's shard.
func (l *shardConns) source(key string) (source, error) {
	i := schema.ShardOf(key, len(l.files))
	if h := l.held[i]; h.c != nil {
		return h, nil
	}
	s := l.files[i].store.Load()
	if s == nil {
		return source{}, fmt.Errorf("shard %d: %w", i, errNotOpen)
	}
	c, err := s.take(false)
	if c == nil && err == nil {
		l.release()
		c, err = s.take(true)
	}
	if err != nil {
		if errors.Is(err, errClosed) {
			l.closed, l.closedShard = s, i
		}
		return source{}, fmt.Errorf("shard %d: %w", i, err)
	}
	l.held[i] = source{s, c}
	return l.held[i], nil
}

func (l *shardConns) Has(t schema.Table, key string) (bool, error) {
	src, err := l.source(key)
	if err != nil {
		return false, err
	}
	return src.Has(t, key)
}

func (l *shardConns) AliasTarget(name string) (string, bool, error) {
	src, err := l.source(name)
	if err != nil {
		return "", false, err
	}
	return src.AliasTarget(name)
}

// release gives every held connection back to its pool.
func (l *shardConns) release() {
	for i, h := range l.held {
		if h.c != nil {
			h.s.conns.put(h.c)
			l.held[i] = source{}
		}
	}
}

// take lends a pooled connection holding a snapshot of the current
// generation, as View does for the length of its function; the caller gives
// it back to s.conns. Without wait it returns nil, nil when every connection
// is lent.
func (s *Store) take(wait bool) (*conn, error) {
	var (
		c  *conn
		ok bool
	)
	if wait {
		c, ok = s.conns.get()
	} else if c, ok = s.conns.tryGet(); ok && c == nil {
		return nil, nil
	}
	if !ok {
		return nil, errClosed
	}
	if err := s.renew(c); err != nil {
		s.conns.put(c)
		return nil, err
	}
	return c, nil
}
