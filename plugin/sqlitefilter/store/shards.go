package store

import (
	"errors"
)

// Set is what a Router reads: the stores of a rule database split over
// Len() files by schema.Split, as the caller holds them now. The row of a
// key lives in shard schema.ShardOf(key, Len()), and the tables held in
// memory (block_regex, the address rewrites) in shard 0. One file is a set
// of one shard. Store(i) is nil while shard i is not open.
type Set interface {
	Len() int
	Store(i int) *Store
}

// Shards is a Set of stores opened once, as the admin command holds them.
type Shards []*Store

// Len implements Set.
func (sh Shards) Len() int { return len(sh) }

// Store implements Set.
func (sh Shards) Store(i int) *Store { return sh[i] }

// OpenShards opens every shard with the same options, in order: the order
// of paths is the shard number.
func OpenShards(paths []string, opts Options) (Shards, error) {
	if len(paths) == 0 {
		return nil, errors.New("open shards: no file")
	}
	sh := make(Shards, 0, len(paths))
	for _, p := range paths {
		s, err := Open(p, opts)
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
