package sqlitefilter

import (
	"fmt"
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
}

// load builds the in-memory rules in the background, at once
// and then whenever the store's generation moves on (the watch kicks it) or
// the store is replaced, so that start-up never waits for them. The ticker
// retries a failed build and notices a replaced store.
func (f *SQLiteFilter) load() {
	defer f.done.Done()
	t := time.NewTicker(f.cfg.Refresh)
	defer t.Stop()
	for {
		s, cur := f.files.first(), f.rules.Load()
		if s != nil && (cur == nil || cur.store != s || cur.gen != s.Generation()) {
			if cur != nil && cur.store != s {
				cur = nil
			}
			start := time.Now()
			r, err := f.loadRules(s, cur)
			switch {
			case err != nil:
				f.fail(fmt.Errorf("%w; retrying in %s", err, f.cfg.Refresh))
			default:
				f.rules.Store(r)
				if cur == nil || cur.set.Regex != r.set.Regex || cur.set.Rewrite != r.set.Rewrite {
					log.Infof("%s: loaded %d regex patterns (%d without a literal to prefilter) and %d address rewrites in %s",
						s.Path(), r.set.Regex.Len(), r.set.Regex.Unfiltered(), r.set.Rewrite.Len(), time.Since(start).Round(time.Microsecond))
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

// loadRules reads the in-memory rules of s (shard 0 of a set), reusing from
// prev, read from the same store, whatever did not change.
func (f *SQLiteFilter) loadRules(s *store.Store, prev *loaded) (*loaded, error) {
	r := &loaded{store: s, gen: s.Generation()}
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
	return r, nil
}

// currentRules returns the in-memory rules if they were read from the store
// in place. After a swap the old file's regex set and rewrites must not apply
// to the new file's data: until rules of the new file are built, none apply,
// as at start-up (the watcher builds them before the swap, so this is a
// window of a few queries at most).
func (f *SQLiteFilter) currentRules() *loaded {
	rs := f.rules.Load()
	if rs == nil || rs.store != f.files.first() {
		return nil
	}
	return rs
}
