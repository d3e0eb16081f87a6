package sqlitefilter

import (
	"fmt"
	"runtime"
	"time"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/rules"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// loaded is the in-memory rules (rules.Set) and the store and generation
// they were read from: queries use them only with that store, and the
// verdict cache files verdicts under them.
type loaded struct {
	store *store.Store
	gen   uint64
	set   *rules.Set
	seq   uint64 // names these rules in the verdict cache: never 0
}

// load rebuilds the in-memory rules of shard 0 whenever its generation
// moves on (the watch kicks it after a committed change), while the previous
// rules serve: a query reads either the old rules or the new, never none.
// The rules of a newly opened file are built by the watcher before the file
// is published (watch.go). The ticker retries a failed build.
func (f *SQLiteFilter) load() {
	defer f.done.Done()
	t := time.NewTicker(f.cfg.Refresh)
	defer t.Stop()
	for {
		s, cur := f.files.first(), f.rules.Load()
		if s != nil && cur != nil && cur.store == s && cur.gen != s.Generation() {
			r, err := f.loadRules(s, cur)
			switch {
			case err != nil:
				f.fail(fmt.Errorf("%w; the rules read before keep applying; retrying in %s", err, f.cfg.Refresh))
			case !f.rules.CompareAndSwap(cur, r):
				// The watcher published another file's rules meanwhile:
				// these describe a file no longer served.
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

// loadRules reads the in-memory rules of s (shard 0 of a set), reusing from
// prev, read from the same store, whatever did not change.
func (f *SQLiteFilter) loadRules(s *store.Store, prev *loaded) (*loaded, error) {
	start := time.Now()
	r := &loaded{store: s, gen: s.Generation(), seq: f.ruleSets.Add(1)}
	var ps *rules.Set
	if prev != nil && prev.store == s {
		ps = prev.set
	}
	var err error
	if r.set, err = rules.Load(s, f.cfg.limits(), ps, f.skips.report); err != nil {
		return nil, err
	}
	rulesLoaded.WithLabelValues(s.Path(), schema.BlockRegex.Name()).Set(float64(r.set.Regex.Len()))
	rulesLoaded.WithLabelValues(s.Path(), "ip_rewrite").Set(float64(r.set.Rewrite.Len()))
	rulesLoaded.WithLabelValues(s.Path(), "block_ip").Set(float64(r.set.BlockIP.Len()))
	if ps == nil || ps.Regex != r.set.Regex || ps.Rewrite != r.set.Rewrite || ps.BlockIP != r.set.BlockIP {
		log.Infof("%s: loaded %d regex patterns (%d without a literal to prefilter), %d address rewrites and %d blocked answer addresses in %s",
			s.Path(), r.set.Regex.Len(), r.set.Regex.Unfiltered(), r.set.Rewrite.Len(), r.set.BlockIP.Len(), time.Since(start).Round(time.Microsecond))
	}
	return r, nil
}

// currentRules returns the in-memory rules read from the store in place.
func (f *SQLiteFilter) currentRules() *loaded {
	_, rs := f.current()
	return rs
}

// current returns shard 0's store and the in-memory rules read from it,
// read together. The watcher publishes a new file's rules just before the
// file (watch.go), so a query may see one of them new and the other old for
// an instant: it reads both again rather than decide the new file's data
// with the old file's rules, or the reverse. Rules of another store than
// the one served are never used.
func (f *SQLiteFilter) current() (*store.Store, *loaded) {
	for range 1000 {
		rs, s0 := f.rules.Load(), f.files.first()
		if rs == nil || s0 == nil || rs.store == s0 {
			return s0, rs
		}
		runtime.Gosched()
	}
	// Unreachable while the watcher publishes rules with every file; were
	// it not, no rules of another file would still be better than wrong ones.
	return f.files.first(), nil
}
