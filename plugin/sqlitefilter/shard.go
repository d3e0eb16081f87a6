package sqlitefilter

import (
	"errors"

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
