package store

import (
	"errors"
	"fmt"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// Router is the policy.Lookup of one decision over a Set: each key goes to
// its shard, whose pooled connection is taken on the first probe there and
// kept, with its snapshot, until Release. A decision answered without a probe
// (by a key filter in front) takes no connection at all.
//
// It never waits for a pool while it holds a connection of another shard:
// two decisions each holding what the other waits for would otherwise
// deadlock once the pools run dry. When a pool is empty it gives back what
// it holds first (the probes already made stand; later probes of those
// shards read a snapshot at least as new).
type Router struct {
	set  Set
	n    int
	held []lent // by shard; the zero lent where none is held
	one  [1]lent
	// closed is a store found closed under the decision, and its shard.
	closed      *Store
	closedShard int
	probes      int // questions that reached SQLite
}

type lent struct {
	s *Store
	c *conn
}

// NewRouter returns a Router over set for one decision.
func NewRouter(set Set) *Router {
	r := new(Router)
	r.Reset(set)
	return r
}

// Reset makes r a new Router over set, as NewRouter does, in place: a
// released Router can serve the next decision without an allocation (the
// server keeps them in a pool).
func (r *Router) Reset(set Set) {
	held := r.held
	*r = Router{set: set, n: set.Len()}
	switch {
	case r.n == 1:
		r.held = r.one[:]
	case cap(held) >= r.n: // a set of several shards: held is not r.one
		r.held = held[:r.n]
		clear(r.held)
	default:
		r.held = make([]lent, r.n)
	}
}

// Clear drops the set and the stores r points to (a released Router: it
// holds no connection), keeping its memory for the next Reset.
func (r *Router) Clear() {
	held := r.held
	clear(held)
	*r = Router{held: held[:0]}
}

// View runs fn with a Router over set and releases it afterwards.
func View(set Set, fn func(policy.Lookup) error) error {
	r := NewRouter(set)
	defer r.Release()
	return fn(r)
}

// shardOf is the shard of key; one file needs no hash.
func (r *Router) shardOf(key string) int {
	if r.n == 1 {
		return 0
	}
	return schema.ShardOf(key, r.n)
}

// conn returns the connection of key's shard.
func (r *Router) conn(key string) (lent, error) {
	i := r.shardOf(key)
	if h := r.held[i]; h.c != nil {
		return h, nil
	}
	s := r.set.Store(i)
	if s == nil {
		return lent{}, r.inShard(i, ErrNotOpen)
	}
	c, err := s.take(false)
	if c == nil && err == nil {
		r.Release()
		c, err = s.take(true)
	}
	if err != nil {
		if errors.Is(err, ErrClosed) {
			r.closed, r.closedShard = s, i
		}
		return lent{}, r.inShard(i, err)
	}
	r.held[i] = lent{s, c}
	return r.held[i], nil
}

// inShard says which shard err is of, when there are several.
func (r *Router) inShard(i int, err error) error {
	if r.n == 1 {
		return err
	}
	return fmt.Errorf("shard %d: %w", i, err)
}

// Lists implements policy.Lookup.
func (r *Router) Lists(t schema.Table, key string) (policy.Lists, error) {
	r.probes++
	l, err := r.conn(key)
	if err != nil {
		return 0, err
	}
	return l.lists(t, key)
}

// AliasTarget implements policy.Lookup.
func (r *Router) AliasTarget(name string) (string, policy.Lists, error) {
	r.probes++
	l, err := r.conn(name)
	if err != nil {
		return "", 0, err
	}
	return l.aliasTarget(name)
}

// Probes is how many questions of the decision reached SQLite.
func (r *Router) Probes() int { return r.probes }

// Release gives every held connection back to its pool.
func (r *Router) Release() {
	for i, h := range r.held {
		if h.c != nil {
			h.s.release(h.c)
			r.held[i] = lent{}
		}
	}
}

// Replaced reports whether err came from a store closed under the decision
// that the Set no longer holds: it was replaced by a new file, and the
// decision can run again on its successor, so that a swap fails no query.
func (r *Router) Replaced(err error) bool {
	return errors.Is(err, ErrClosed) && r.closed != nil && r.set.Store(r.closedShard) != r.closed
}

// take lends a pooled connection holding a snapshot of the current
// generation; the caller gives it back to s.conns. Without wait it returns
// nil, nil when every connection is lent.
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
		return nil, ErrClosed
	}
	if err := s.renew(c); err != nil {
		s.release(c)
		return nil, err
	}
	return c, nil
}
