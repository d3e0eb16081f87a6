// Package bloom keeps a key filter in front of a store: a split-block Bloom
// filter over every key the decision probes, so that a name in no table costs
// a few hundred nanoseconds instead of one SQLite probe per suffix and table.
package bloom

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

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

// KeyFilter keeps a Bloom filter over every key of schema.FilterKeys in
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
	// state is the filter of the store in use. next is one built for a
	// store that is about to replace it (Prepare), which no query reads
	// yet; prev, once that store is in use, the filter of the store it
	// replaced, which the queries still reading the old store use until
	// the next Sync.
	state, next, prev atomic.Pointer[filterState]

	mu        sync.Mutex // serialises sync and the publication of a build
	building  bool
	builtFor  *store.Store  // store of the last build
	lastBuild time.Time     // end of the last build
	buildTook time.Duration // how long it took
	skip      *store.Store  // store that gets no filter (too big, or not per-type)
	stop      chan struct{}
	built     chan<- struct{} // told when a build ends (Notify)
	// yieldFirst: the first build runs while another instance serves
	// (YieldFirstBuild).
	yieldFirst bool
	// pace paces the build in progress (pace.go); set before its
	// goroutine starts. gate is shared with the handler's other filters
	// (ShareGate).
	pace      pacer
	gate      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
	// afterChunk, when set (by tests), runs after each chunk of a page scan
	// of table, outside its read transaction: where a writer's commit can
	// land.
	afterChunk func(table string)
	// fromKeys: build from the keys even when the file stores a filter
	// (stored.go).
	fromKeys bool
}

// filterState is a built filter for one store.
type filterState struct {
	store  *store.Store
	b      *filter
	logged bool          // the database has the change log
	lastID int64         // highest change-log id applied
	schema int64         // PRAGMA schema_version at the build
	stored bool          // read from the file, not built (stored.go)
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

// normalizedOverhead is what a name of the normalized layout costs beside
// its two copies (ids, the records row, b-tree slack), a slight
// underestimate as rowOverhead is.
const normalizedOverhead = 60

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

// Notify makes k tell ch, without waiting, whenever a build ends: a
// watcher waiting to publish a prepared store (Prepare) then need not wait
// for its next tick. Call it before the first build.
func (k *KeyFilter) Notify(ch chan<- struct{}) {
	if k != nil {
		k.built = ch
	}
}

// ShareGate makes the paced builds of every filter given gate (a channel
// of capacity 1) take their share of the core together (pace.go). Call it
// before the first build.
func (k *KeyFilter) ShareGate(gate chan struct{}) {
	if k != nil {
		k.gate = gate
	}
}

// YieldFirstBuild makes the first build yield to queries as a prepared one
// does (pace.go): the instance it belongs to replaces another that serves
// until it is ready (a Corefile reload), so nothing waits for the build but
// the handover.
func (k *KeyFilter) YieldFirstBuild() {
	if k != nil {
		k.yieldFirst = true
	}
}

// Wrap makes fl the lookup of one decision over the stores of set (a
// store.Router, l), behind the filter of each shard that is complete for
// its store's generation now, and returns it; filters are by shard. A shard
// whose filter is not complete is asked directly, and when none is, l is
// returned itself. A set of one file pays no hash to find the shard. A
// Filtered kept between decisions (the server pools them) wraps each
// without an allocation.
func (fl *Filtered) Wrap(filters []*KeyFilter, set store.Set, l policy.Lookup, negatives *int) policy.Lookup {
	states := fl.states
	*fl = Filtered{Lookup: l, negatives: negatives, n: set.Len()}
	switch {
	case fl.n <= 1:
		fl.states = fl.one[:]
	case cap(states) >= fl.n: // several shards: states is not fl.one
		fl.states = states[:fl.n]
		clear(fl.states)
	default:
		fl.states = make([]*filterState, fl.n)
	}
	some := false
	for i, k := range filters {
		if k == nil {
			continue
		}
		if st := k.complete(set.Store(i)); st != nil {
			fl.states[i], some = st, true
		}
	}
	if !some {
		return l
	}
	return fl
}

// Clear drops the filters and the lookup fl points to, keeping its memory
// for the next Wrap.
func (fl *Filtered) Clear() {
	states := fl.states
	clear(states)
	*fl = Filtered{states: states[:0]}
}

// Settled reports whether a build for s has ended: the filter is in use, or
// it is not built for s (above the memory cap, another layout, an error),
// and SQLite answers every probe. A nil KeyFilter is settled.
func (k *KeyFilter) Settled(s *store.Store) bool {
	if k == nil {
		return true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.builtFor == s || k.skip == s
}

// Ready reports whether the filter is in use for store s now.
func (k *KeyFilter) Ready(s *store.Store) bool {
	return k != nil && k.complete(s) != nil
}

// complete returns the filter of s that is complete for its generation
// now, or nil: the one in use, or the one of the store just replaced.
func (k *KeyFilter) complete(s *store.Store) *filterState {
	if s == nil {
		return nil
	}
	gen := s.Generation()
	if st := k.state.Load(); st != nil && st.store == s && st.gen.Load() == gen {
		return st
	}
	if st := k.prev.Load(); st != nil && st.store == s && st.gen.Load() == gen {
		return st
	}
	return nil
}

// Prepare builds the filter of s, a store that is to replace the one in
// use (a file swapped in), while the filter in use keeps serving the old
// one, so that the new file is fast from its first query: the caller
// publishes s once Settled(s), then calls Sync(s), which puts the prepared
// filter in use. It is meant to be called until Settled(s): a call while
// another build runs (the old store's) starts nothing, and the next call
// starts the build. Until then the process holds two filters.
func (k *KeyFilter) Prepare(s *store.Store) {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.builtFor == s || k.skip == s || k.building {
		return
	}
	if st := k.next.Load(); st != nil && st.store != s {
		k.next.Store(nil) // prepared for a store that never served
	}
	k.startBuild(s, 0, true)
}

// Discard drops the filter prepared for s, a store that will not be used.
func (k *KeyFilter) Discard(s *store.Store) {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if st := k.next.Load(); st != nil && st.store == s {
		k.next.Store(nil)
	}
}

// Renumber tells the filter prepared for s, not yet in use, that s's
// generation moved from from to to without a change to its data (the caller
// renumbered it): the filter stays complete.
func (k *KeyFilter) Renumber(s *store.Store, from, to uint64) {
	if k == nil {
		return
	}
	if st := k.next.Load(); st != nil && st.store == s {
		st.gen.CompareAndSwap(from, to)
	}
}

// Filtered is a lookup behind key filters: it answers "absent" for a
// filtered table when the filter of the key's shard is sure, and asks the
// store otherwise.
type Filtered struct {
	policy.Lookup
	states    []*filterState // by shard; nil where no filter is complete
	one       [1]*filterState
	n         int
	negatives *int // probes answered by a filter alone, for the metrics
	// seen are the last keys asked about and the answers: a decision asks
	// about each suffix of its name once per table, and the filter holds
	// the keys of every table, so all but the first ask are answered here.
	seen  [8]seenKey
	nseen int
}

// seenKey is a key asked about in one decision, known by its bytes'
// address and length: the suffixes of a name share its bytes, and a
// string's bytes never change while the decision holds it.
type seenKey struct {
	p      *byte
	n      int
	absent bool
}

// absent reports whether the filter of key's shard is sure key is absent.
func (fl *Filtered) absent(key string) bool {
	p := unsafe.StringData(key)
	for i := range min(fl.nseen, len(fl.seen)) {
		if k := &fl.seen[i]; k.p == p && k.n == len(key) {
			if k.absent {
				*fl.negatives++
			}
			return k.absent
		}
	}
	i := 0
	if fl.n > 1 {
		i = schema.ShardOf(key, fl.n)
	}
	st := fl.states[i]
	absent := st != nil && !st.b.mayContain(key)
	fl.seen[fl.nseen%len(fl.seen)] = seenKey{p, len(key), absent}
	fl.nseen++
	if absent {
		*fl.negatives++
	}
	return absent
}

func (fl *Filtered) Lists(t schema.Table, key string) (policy.Lists, error) {
	if filtered[t] && fl.absent(key) {
		return 0, nil
	}
	return fl.Lookup.Lists(t, key)
}

func (fl *Filtered) AliasTarget(name string) (string, policy.Lists, error) {
	if fl.absent(name) {
		return "", 0, nil
	}
	return fl.Lookup.AliasTarget(name)
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
	if n := k.next.Load(); n != nil && n.store == s && (st == nil || st.store != s) {
		// s was prepared and is now in use: its filter takes over, and the
		// replaced store's serves the queries still reading that store
		// until the next call.
		k.prev.Store(st)
		k.state.Store(n)
		k.next.Store(nil)
		st = n
	} else {
		k.prev.Store(nil)
	}
	if st != nil && st.store == s {
		gen := s.Generation()
		if st.gen.Load() == gen {
			return
		}
		if st.logged {
			err := k.catchUp(st, gen)
			if err == nil {
				if st.b.added.Load() > 2*st.b.capacity() {
					k.startBuild(s, st.b.added.Load(), false)
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
	k.startBuild(s, 0, false)
}

// startBuild starts building a filter for s, sized for at least n keys,
// unless a build is running. Called with k.mu held.
// A prepared build (Prepare) is kept aside for s until s is in use.
func (k *KeyFilter) startBuild(s *store.Store, n int64, prepared bool) {
	if k.building || k.skip == s {
		return
	}
	k.building = true
	// Paced when queries are served with another filter meanwhile.
	k.pace = pacer{on: prepared || k.state.Load() != nil || k.yieldFirst, gate: k.gate, stop: k.stop}
	k.yieldFirst = false
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		t0 := time.Now()
		st, err := k.build(s, n)
		k.mu.Lock()
		defer k.mu.Unlock()
		defer k.tellBuilt()
		k.building, k.builtFor, k.lastBuild, k.buildTook = false, s, time.Now(), time.Since(t0)
		if errors.Is(err, errTooBig) {
			k.skip = s
		}
		if err != nil {
			if !errors.Is(err, errStopped) {
				k.log.Warningf("%s: Bloom filter not built, SQLite answers every probe: %v", s.Path(), err)
			}
			return
		}
		if prepared {
			k.next.Store(st)
		} else {
			k.state.Store(st)
		}
		if st.logged {
			if err := k.catchUp(st, s.Generation()); err != nil {
				k.log.Infof("%s: Bloom filter off until rebuilt: %v", s.Path(), err)
			}
		}
		how := "built"
		if st.stored {
			how = "read from the file"
		}
		k.log.Infof("%s: Bloom filter ready: %d keys, %.1f MB, %s in %s", s.Path(), st.b.added.Load(), float64(st.b.sizeBytes())/(1<<20), how, k.buildTook.Round(time.Millisecond))
	}()
}

// tellBuilt tells the Notify channel that a build ended.
func (k *KeyFilter) tellBuilt() {
	select {
	case k.built <- struct{}{}:
	default: // told already, or nobody listens
	}
}

var (
	errStopped = errors.New("stopped")
	errTooBig  = errors.New("above bloom_max_memory")
)

// build scans the keys of every filtered table of s into a new filter.
func (k *KeyFilter) build(s *store.Store, atLeast int64) (*filterState, error) {
	gen := s.Generation()
	st := &filterState{store: s}
	var est int64
	var keys []schema.KeyColumn
	err := s.WithWatcher(func(c *sqlite3.SQLiteConn) error {
		var err error
		keys, err = existing(c, schema.FilterKeys(s.Layout()))
		return err
	})
	if err != nil {
		return nil, err
	}
	var why string         // a stored filter is not used
	var stored *storedInfo // one that can be
	err = s.WithWatcher(func(c *sqlite3.SQLiteConn) (err error) {
		// One read transaction: a stored filter is checked against the
		// state read here.
		if _, err := c.ExecContext(context.Background(), "BEGIN", nil); err != nil {
			return err
		}
		defer func() {
			if _, cerr := c.ExecContext(context.Background(), "COMMIT", nil); err == nil {
				err = cerr
			}
		}()
		// Read before the check: a trigger dropped and created again around
		// a bulk load changes it, and catchUp then asks for a rebuild.
		if st.schema, err = store.QueryInt(c, "PRAGMA schema_version"); err != nil {
			return err
		}
		if st.logged, err = hasChangeLog(c, s.Layout()); err != nil {
			return err
		}
		if st.logged {
			if st.lastID, err = changeLogSeq(c); err != nil {
				return err
			}
		}
		if !k.fromKeys {
			info, ok, reason, err := k.usableStored(c, st)
			switch {
			case err != nil:
				why = fmt.Sprintf("it could not be read: %v", err)
			case ok:
				stored = &info
			default:
				why = reason
			}
		}
		est, err = estimateKeys(c, s.Layout(), keys)
		return err
	})
	if err != nil {
		return nil, err
	}
	if stored != nil {
		var err error
		if why, err = k.readStored(s, st, *stored); err != nil {
			return nil, err
		}
		if why == "" {
			st.gen.Store(gen)
			return st, nil
		}
	}
	if why != "" {
		k.log.Infof("%s: the key filter stored in the file is not used, building one from the keys: %s", s.Path(), why)
	}
	n := max(est, atLeast, minFilterKeys)
	for attempt := 0; ; attempt++ {
		if need := bloomBytes(n); need > k.maxBytes {
			return nil, fmt.Errorf("a filter for ~%d keys needs %.1f MB, %w (%.1f MB)", n, float64(need)/(1<<20), errTooBig, float64(k.maxBytes)/(1<<20))
		}
		st.b = newFilter(n)
		for _, kc := range keys {
			if err := k.scan(s, kc, st.b); err != nil {
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

// scanChunk is how many keys one read of the build reads: small enough that
// a writer in rollback-journal mode never waits long for it.
const scanChunk = 16384

// scan adds every key of table t of s to b, in chunks of scanChunk keys in
// key order, each read on the store's watcher connection between two
// Refresh calls, which wait for at most one chunk.
//
// A chunk is the keys after the previous chunk's last key up to and
// including the key scanChunk places further (an index seek), and comes
// back as one string, its keys joined by newlines: one value through the
// driver per chunk instead of one per key, which is where the time of a
// row-by-row scan goes. A chunk that does not split into as many keys as it
// has (a key with a newline in it: no host name has one, but a row may hold
// anything) is read again row by row, so that no key is ever split into two
// wrong ones.
func (k *KeyFilter) scan(s *store.Store, t schema.KeyColumn, b *filter) error {
	done, lo, err := k.scanPages(s, t, b)
	if err != nil || done {
		return err
	}
	q := newChunkQueries(t)
	// lo is the previous chunk's last key; nil before the first.
	for {
		select {
		case <-k.stop:
			return errStopped
		default:
		}
		var hi driver.Value
		if !k.pace.chunk() {
			return errStopped
		}
		err := s.WithWatcher(func(c *sqlite3.SQLiteConn) error {
			var err error
			if hi, err = q.end(c, lo); err != nil {
				return err
			}
			return q.add(c, lo, hi, b)
		})
		k.pace.done()
		if err != nil {
			return fmt.Errorf("scan %s: %w", t.Table, err)
		}
		if hi == nil {
			return nil
		}
		lo = hi
	}
}

// chunkQueries are the statements of the scan of one table.
type chunkQueries struct {
	endFirst, endNext string // the last key of a chunk
	joined, rows      string // a chunk's keys, joined or row by row; %s is its WHERE clause
	key               string
}

func newChunkQueries(t schema.KeyColumn) chunkQueries {
	key := t.Column
	return chunkQueries{
		endFirst: fmt.Sprintf("SELECT %[2]s FROM %[1]s ORDER BY %[2]s LIMIT 1 OFFSET %[3]d", t.Table, key, scanChunk-1),
		endNext:  fmt.Sprintf("SELECT %[2]s FROM %[1]s WHERE %[2]s > ?1 ORDER BY %[2]s LIMIT 1 OFFSET %[3]d", t.Table, key, scanChunk-1),
		joined:   fmt.Sprintf("SELECT coalesce(group_concat(%[2]s, char(10)), ''), count(%[2]s) FROM %[1]s %%s", t.Table, key),
		rows:     fmt.Sprintf("SELECT %[2]s FROM %[1]s %%s", t.Table, key),
		key:      key,
	}
}

// end returns the last key of the chunk after lo, or nil when the rest of
// the table is shorter than a chunk.
func (q chunkQueries) end(c *sqlite3.SQLiteConn, lo driver.Value) (driver.Value, error) {
	query, args := q.endFirst, []driver.NamedValue(nil)
	if lo != nil {
		query, args = q.endNext, []driver.NamedValue{{Ordinal: 1, Value: lo}}
	}
	v, _, err := queryOne(c, query, args)
	return v, err
}

// queryOne runs a query returning one value; ok is false when it returns
// no row.
func queryOne(c *sqlite3.SQLiteConn, q string, args []driver.NamedValue) (v driver.Value, ok bool, err error) {
	rows, err := c.QueryContext(context.Background(), q, args)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil {
		if err == io.EOF {
			return nil, false, nil
		}
		return nil, false, err
	}
	return dest[0], true, nil
}

// add adds the keys after lo (nil: from the first) up to and including hi
// (nil: to the last) to b. The bounds make the chunk a range of the key's
// index, whose keys may come back in any order.
func (q chunkQueries) add(c *sqlite3.SQLiteConn, lo, hi driver.Value, b *filter) error {
	var conds []string
	var args []driver.NamedValue
	bound := func(op string, v driver.Value) {
		args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
		conds = append(conds, fmt.Sprintf("%s %s ?%d", q.key, op, len(args)))
	}
	if lo != nil {
		bound(">", lo)
	}
	if hi != nil {
		bound("<=", hi)
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	rows, err := c.QueryContext(context.Background(), fmt.Sprintf(q.joined, where), args)
	if err != nil {
		return err
	}
	dest := make([]driver.Value, 2)
	err = rows.Next(dest)
	rows.Close()
	if err != nil {
		return err
	}
	keys := bytesOf(dest[0])
	if n, _ := dest[1].(int64); n > 0 && int64(bytes.Count(keys, newline))+1 != n {
		return addRows(c, fmt.Sprintf(q.rows, where), args, b)
	}
	var batch hashBatch
	for len(keys) > 0 {
		i := bytes.IndexByte(keys, '\n')
		if i < 0 {
			i = len(keys)
		}
		batch.add(b, keys[:i])
		keys = keys[min(i+1, len(keys)):]
	}
	batch.flush(b)
	return nil
}

var newline = []byte{'\n'}

// bytesOf is the text or blob v as bytes, without a copy.
func bytesOf(v driver.Value) []byte {
	switch v := v.(type) {
	case string:
		return unsafe.Slice(unsafe.StringData(v), len(v))
	case []byte:
		return v
	}
	return nil
}

// addRows adds the keys of one chunk to b one row at a time.
func addRows(c *sqlite3.SQLiteConn, q string, args []driver.NamedValue, b *filter) error {
	rows, err := c.QueryContext(context.Background(), q, args)
	if err != nil {
		return err
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	for {
		if err := rows.Next(dest); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		switch v := dest[0].(type) {
		case string:
			b.addString(v)
		case []byte:
			b.add(v)
		}
	}
}

// estimateKeys estimates the keys in the file from its size and the mean
// length of a sample of keys: cheap at any size, where COUNT(*) is O(rows).
func estimateKeys(c *sqlite3.SQLiteConn, l schema.Layout, keys []schema.KeyColumn) (int64, error) {
	pages, err := store.QueryInt(c, "PRAGMA page_count")
	if err != nil {
		return 0, fmt.Errorf("estimate rows: %w", err)
	}
	size, err := store.QueryInt(c, "PRAGMA page_size")
	if err != nil {
		return 0, fmt.Errorf("estimate rows: %w", err)
	}
	keyLen := int64(8)
	for _, kc := range keys {
		n, err := store.QueryInt(c, fmt.Sprintf("SELECT coalesce(CAST(avg(length(%[2]s)) AS INTEGER), 0) FROM (SELECT %[2]s FROM %[1]s LIMIT 1000)", kc.Table, kc.Column))
		if err != nil {
			return 0, fmt.Errorf("estimate rows: %w", err)
		}
		keyLen = max(keyLen, n)
	}
	perKey := keyLen + rowOverhead
	if l == schema.Normalized {
		// A name is stored twice (the domains row and its UNIQUE index)
		// beside a records row: ~125 B for a 21-byte name, measured.
		perKey = 2*keyLen + normalizedOverhead
	}
	return pages * size / perKey, nil
}

// existing keeps the key columns whose table the database has.
func existing(c *sqlite3.SQLiteConn, keys []schema.KeyColumn) ([]schema.KeyColumn, error) {
	var out []schema.KeyColumn
	for _, kc := range keys {
		n, err := store.QueryInt(c, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1", kc.Table)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			out = append(out, kc)
		}
	}
	return out, nil
}

// Close stops a running build and releases the filter.
func (k *KeyFilter) Close() {
	if k == nil {
		return
	}
	k.closeOnce.Do(func() { close(k.stop) })
	k.wg.Wait()
	k.state.Store(nil)
	k.next.Store(nil)
	k.prev.Store(nil)
}
