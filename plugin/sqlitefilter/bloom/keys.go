// Package bloom keeps a key filter in front of a store: a split-block Bloom
// filter over every key the decision probes, so that a name in no table costs
// a few hundred nanoseconds instead of one SQLite probe per suffix and table.
package bloom

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// Logger is where the filter says what it does (CoreDNS's plugin logger).
type Logger interface {
	Infof(format string, v ...any)
	Warningf(format string, v ...any)
}

// KeyFilter keeps a Bloom filter over every key of schema.LoggedTables in
// front of the store, so that the common query, a name in no table, costs a
// few hundred nanoseconds instead of one SQLite probe per suffix per table.
//
// The filter may over-report, never under-report, for the generation it is
// marked complete for; queries use it only while the store's generation is
// that one, and ask SQLite otherwise. So:
//   - it is built in the background after start (until it is complete,
//     SQLite answers every probe), by key-range chunks in short read
//     transactions, so that no writer waits on it;
//   - after every committed change, keys new since the last look are read
//     from the database's change log (schema.ChangeLog, filled by triggers in
//     the writer's own transaction; the plugin never writes) and added, and
//     the filter is marked complete for the new generation;
//   - without a change log, or when entries were trimmed before they were
//     read, the filter is off from the first change until a rebuild, which
//     starts no sooner than ten build-durations after the last one so that
//     a busy writer cannot keep a core scanning;
//   - a filter larger than the memory cap is not built at all.
//
// Its size follows the row count estimated from the file size (cheap; never
// COUNT(*)), corrected by the count the build made, and it is rebuilt when
// the change log has doubled it.
type KeyFilter struct {
	maxBytes int64
	log      Logger
	state    atomic.Pointer[filterState]

	mu        sync.Mutex // serialises sync and the publication of a build
	building  bool
	builtFor  *store.Store  // store of the last build
	lastBuild time.Time     // end of the last build
	buildTook time.Duration // how long it took
	skip      *store.Store  // store that gets no filter (too big, or not per-type)
	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// filterState is a built filter for one store.
type filterState struct {
	store  *store.Store
	b      *filter
	logged bool          // the database has the change log
	lastID int64         // highest change-log id applied
	schema int64         // PRAGMA schema_version at the build
	gen    atomic.Uint64 // generation the filter is complete for
}

// filtered marks the tables the filter holds the keys of.
var filtered = func() (f [schema.NumTables]bool) {
	for _, t := range schema.LoggedTables {
		f[t] = true
	}
	return f
}()

// rowOverhead is what a WITHOUT ROWID row costs in the file beside its key
// (record header, cell pointer, b-tree slack: ~5 B measured): a slight
// underestimate, so the key count estimated from the file size errs high.
const rowOverhead = 4

// minFilterKeys is the smallest filter built (80 KB): room for the rows a
// small database gains before the filter is rebuilt larger.
const minFilterKeys = 1 << 16

// New returns a filter manager capped at maxBytes, or nil (no filter)
// when maxBytes is 0.
func New(maxBytes int64, log Logger) *KeyFilter {
	if maxBytes <= 0 {
		return nil
	}
	return &KeyFilter{maxBytes: maxBytes, log: log, stop: make(chan struct{})}
}

// Wrap returns l behind the filter when the filter is complete for store s
// at generation gen, else l itself.
func (k *KeyFilter) Wrap(s *store.Store, gen uint64, l policy.Lookup, negatives *int) policy.Lookup {
	if k == nil {
		return l
	}
	st := k.state.Load()
	if st == nil || st.store != s || st.gen.Load() != gen {
		return l
	}
	return filteredLookup{l, st.b, negatives}
}

// Ready reports whether the filter is in use for store s now.
func (k *KeyFilter) Ready(s *store.Store) bool {
	if k == nil {
		return false
	}
	st := k.state.Load()
	return st != nil && st.store == s && st.gen.Load() == s.Generation()
}

// filteredLookup answers "absent" for a filtered table when the filter is sure,
// and asks the store otherwise.
type filteredLookup struct {
	policy.Lookup
	b         *filter
	negatives *int // probes answered by the filter alone, for the metrics
}

func (bl filteredLookup) Has(t schema.Table, key string) (bool, error) {
	if filtered[t] && !bl.b.mayContain(key) {
		*bl.negatives++
		return false, nil
	}
	return bl.Lookup.Has(t, key)
}

func (bl filteredLookup) AliasTarget(name string) (string, bool, error) {
	if !bl.b.mayContain(name) {
		*bl.negatives++
		return "", false, nil
	}
	return bl.Lookup.AliasTarget(name)
}

// Sync brings the filter in step with store s after a Refresh: it applies the
// change log, or starts a (re)build. It is cheap when nothing changed.
func (k *KeyFilter) Sync(s *store.Store) {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	st := k.state.Load()
	if st != nil && st.store == s {
		gen := s.Generation()
		if st.gen.Load() == gen {
			return
		}
		if st.logged {
			err := k.catchUp(st, gen)
			if err == nil {
				if st.b.added.Load() > 2*st.b.capacity() {
					k.startBuild(s, st.b.added.Load())
				}
				return
			}
			k.log.Infof("%s: Bloom filter off until rebuilt: %v", s.Path(), err)
		}
		// Stale for good: free it now, so that a rebuild never holds two.
		k.state.Store(nil)
	} else if st != nil {
		k.state.Store(nil) // the filter of a file that was swapped out
	}
	if k.builtFor == s && time.Since(k.lastBuild) < 10*k.buildTook {
		return
	}
	k.startBuild(s, 0)
}

// startBuild starts building a filter for s, sized for at least n keys,
// unless a build is running. Called with k.mu held.
func (k *KeyFilter) startBuild(s *store.Store, n int64) {
	if k.building || k.skip == s {
		return
	}
	k.building = true
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		t0 := time.Now()
		st, err := k.build(s, n)
		k.mu.Lock()
		defer k.mu.Unlock()
		k.building, k.builtFor, k.lastBuild, k.buildTook = false, s, time.Now(), time.Since(t0)
		if errors.Is(err, errTooBig) || errors.Is(err, errLayout) {
			k.skip = s
		}
		if err != nil {
			if !errors.Is(err, errStopped) {
				k.log.Warningf("%s: Bloom filter not built, SQLite answers every probe: %v", s.Path(), err)
			}
			return
		}
		k.state.Store(st)
		if st.logged {
			if err := k.catchUp(st, s.Generation()); err != nil {
				k.log.Infof("%s: Bloom filter off until rebuilt: %v", s.Path(), err)
			}
		}
		k.log.Infof("%s: Bloom filter ready: %d keys, %.1f MB, built in %s", s.Path(), st.b.added.Load(), float64(st.b.sizeBytes())/(1<<20), k.buildTook.Round(time.Millisecond))
	}()
}

var (
	errStopped = errors.New("stopped")
	errTooBig  = errors.New("above bloom_max_memory")
	errLayout  = errors.New("the filter is built for the per-type layout only")
)

// build scans every filtered table of s into a new filter.
func (k *KeyFilter) build(s *store.Store, atLeast int64) (*filterState, error) {
	if s.Layout() != schema.PerType {
		return nil, errLayout
	}
	gen := s.Generation()
	st := &filterState{store: s}
	var est int64
	err := s.WithWatcher(func(c *sqlite3.SQLiteConn) error {
		var err error
		// Read before the check: a trigger dropped and created again around
		// a bulk load changes it, and catchUp then asks for a rebuild.
		if st.schema, err = store.QueryInt(c, "PRAGMA schema_version"); err != nil {
			return err
		}
		if st.logged, err = hasChangeLog(c); err != nil {
			return err
		}
		if st.logged {
			if st.lastID, err = changeLogSeq(c); err != nil {
				return err
			}
		}
		est, err = estimateKeys(c, s)
		return err
	})
	if err != nil {
		return nil, err
	}
	n := max(est, atLeast, minFilterKeys)
	for attempt := 0; ; attempt++ {
		if need := bloomBytes(n); need > k.maxBytes {
			return nil, fmt.Errorf("a filter for ~%d keys needs %.1f MB, %w (%.1f MB)", n, float64(need)/(1<<20), errTooBig, float64(k.maxBytes)/(1<<20))
		}
		st.b = newFilter(n)
		for _, t := range schema.LoggedTables {
			if !s.Present(t) {
				continue
			}
			if err := k.scan(s, t, st.b); err != nil {
				return nil, err
			}
		}
		// The estimate was low (a file of unusually short rows): size the
		// filter from the count just made and scan again, once.
		if added := st.b.added.Load(); added > st.b.capacity() && attempt == 0 {
			n = added + added/4
			continue
		}
		break
	}
	st.gen.Store(gen)
	return st, nil
}

// scanChunk is how many keys one read transaction of the build reads: small
// enough that a writer in rollback-journal mode never waits long for it.
const scanChunk = 16384

// scan adds every key of table t of s to b, in key order, one chunk per
// statement, each on the store's watcher connection between two Refresh
// calls, which wait for at most one chunk.
func (k *KeyFilter) scan(s *store.Store, t schema.Table, b *filter) error {
	first := fmt.Sprintf("SELECT %[2]s FROM %[1]s ORDER BY %[2]s LIMIT %[3]d", t.Name(), t.KeyColumn(), scanChunk)
	next := fmt.Sprintf("SELECT %[2]s FROM %[1]s WHERE %[2]s > ?1 ORDER BY %[2]s LIMIT %[3]d", t.Name(), t.KeyColumn(), scanChunk)
	var args []driver.NamedValue
	dest := make([]driver.Value, 1)
	var last []byte
	for q := first; ; q = next {
		select {
		case <-k.stop:
			return errStopped
		default:
		}
		n := 0
		err := s.WithWatcher(func(c *sqlite3.SQLiteConn) error {
			rows, err := c.QueryContext(context.Background(), q, args)
			if err != nil {
				return err
			}
			defer rows.Close()
			for {
				if err = rows.Next(dest); err != nil {
					break
				}
				switch v := dest[0].(type) {
				case string:
					b.addString(v)
					last = append(last[:0], v...)
				case []byte:
					b.add(v)
					last = append(last[:0], v...)
				}
				n++ // NULL or a number (no name can match it) still moves the chunk on
			}
			if err != io.EOF {
				return err
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("scan %s: %w", t, err)
		}
		if n < scanChunk {
			return nil
		}
		args = []driver.NamedValue{{Ordinal: 1, Value: string(last)}}
	}
}

// estimateKeys estimates the keys in the file from its size and the mean
// length of a sample of keys: cheap at any size, where COUNT(*) is O(rows).
func estimateKeys(c *sqlite3.SQLiteConn, s *store.Store) (int64, error) {
	pages, err := store.QueryInt(c, "PRAGMA page_count")
	if err != nil {
		return 0, fmt.Errorf("estimate rows: %w", err)
	}
	size, err := store.QueryInt(c, "PRAGMA page_size")
	if err != nil {
		return 0, fmt.Errorf("estimate rows: %w", err)
	}
	keyLen := int64(8)
	for _, t := range schema.LoggedTables {
		if !s.Present(t) {
			continue
		}
		n, err := store.QueryInt(c, fmt.Sprintf("SELECT coalesce(CAST(avg(length(%[2]s)) AS INTEGER), 0) FROM (SELECT %[2]s FROM %[1]s LIMIT 1000)", t.Name(), t.KeyColumn()))
		if err != nil {
			return 0, fmt.Errorf("estimate rows: %w", err)
		}
		keyLen = max(keyLen, n)
	}
	return pages * size / (keyLen + rowOverhead), nil
}

// Close stops a running build and releases the filter.
func (k *KeyFilter) Close() {
	if k == nil {
		return
	}
	k.closeOnce.Do(func() { close(k.stop) })
	k.wg.Wait()
	k.state.Store(nil)
}
