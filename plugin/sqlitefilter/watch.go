package sqlitefilter

import (
	"errors"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
)

// statsInterval is the least time between two row estimates of a changing
// database: an estimate may count up to rowCountCap rows per table.
const statsInterval = time.Minute

// watch follows the database file every refresh interval, or each file of a
// shard set in turn: it opens a file when none is open, opens it anew when
// another file was renamed over it, and otherwise takes up the changes
// committed to it. Each check costs three stats (the file, its -wal and
// -shm) and one PRAGMA data_version per file, never a table scan.
func (f *SQLiteFilter) watch() {
	defer f.done.Done()
	t := time.NewTicker(f.cfg.Refresh)
	defer t.Stop()
	for {
		for _, d := range f.files {
			if s := d.store.Load(); s != nil && (s != d.measured || s.Generation() != d.measuredGen && time.Since(d.measuredAt) >= statsInterval) {
				d.measured, d.measuredGen, d.measuredAt = s, s.Generation(), time.Now()
				f.measure(d, s)
			}
		}
		select {
		case <-f.stop:
			return
		case <-f.built:
			// A file prepared while the old one served may be ready to
			// take its place: within refresh of its rename, plus the build.
			for _, d := range f.files {
				if d.pending != nil {
					f.check(d)
				}
			}
		case <-t.C:
			if f.resolvePattern() {
				for _, d := range f.files {
					f.check(d)
				}
			}
			// Each file's key filter follows its store: the change log
			// read after a commit, or a rebuild.
			for i, d := range f.files {
				if s := d.store.Load(); s != nil {
					f.filters[i].Sync(s)
				}
			}
		}
	}
}

// check is one round of watch for one file.
func (f *SQLiteFilter) check(d *dbFile) {
	if d.pending != nil {
		// A new file is being prepared; until it takes the old one's
		// place, the old one follows its edits.
		if !f.checkPending(d) {
			f.follow(d, d.store.Load())
		}
		return
	}
	s := d.store.Load()
	if s == nil {
		f.reopen(d)
		return
	}
	replaced, err := s.Replaced()
	if err != nil {
		// Deleted (or unreadable directory): the open connections still hold
		// the last file, so the server keeps answering from it until a new
		// file appears.
		f.failFile(d, fmt.Errorf("check %s: %w; answering from the data read last", d.path, err))
	} else if replaced {
		if left := s.LeftSidecar(); left != "" {
			f.failFile(d, fmt.Errorf("%s was replaced but %s of the old file is still there: remove the old -wal and -shm before renaming a new file in place (see \"Updating the database\"); answering from the old file", d.path, left))
			return
		}
		f.reopen(d)
		return
	}
	schemaChanged, err := f.follow(d, s)
	var se sqlite3.Error
	switch {
	case schemaChanged:
		// A table was created or dropped, or the lists were re-encoded:
		// the store's statements, the tables it knows of and how it reads
		// the lists are the old schema's. Opened anew (as a swap of the
		// same file), the new schema applies within refresh.
		log.Infof("%s: the schema changed; opening the file anew", d.path)
		f.reopen(d)
	case err != nil && (!errors.As(err, &se) || se.Code != sqlite3.ErrBusy && se.Code != sqlite3.ErrLocked):
		// A writer's lock held beyond busy_timeout passes; anything else may
		// be a file damaged in place, which a fresh open tells. Until one
		// succeeds, the old connections keep serving what they can.
		f.reopen(d)
	}
}

// follow takes up what was committed to s, d's store in use, and tells the
// loader when the data changed. It reports whether the schema changed (the
// file is then to be opened anew) and the error that kept it from
// checking, which it counts and logs.
func (f *SQLiteFilter) follow(d *dbFile, s *store.Store) (schemaChanged bool, err error) {
	changed, err := s.Refresh()
	if st, ok := s.Replica(); ok {
		replicaTXID.WithLabelValues(d.path).Set(float64(st.TXID))
		if !st.Applied.IsZero() {
			replicaAge.WithLabelValues(d.path).Set(time.Since(st.Applied).Seconds())
		}
	}
	switch {
	case err != nil:
		f.failFile(d, err)
		return false, err
	case s.SchemaChanged():
		return true, nil
	case changed:
		reloadCount.WithLabelValues(d.path).Inc()
		reloadTime.WithLabelValues(d.path).SetToCurrentTime()
		f.kickLoader()
	}
	return false, nil
}

// kickLoader tells the rules loader that the data changed.
func (f *SQLiteFilter) kickLoader() {
	select {
	case f.kick <- struct{}{}:
	default: // a rebuild is already due
	}
}

// open opens the database file and puts it in place of the current store,
// which is then drained (Close waits for the connections lent to lookups)
// and closed. On failure the current store, if any, stays in place.
//
// Another file renamed over the one in use is prepared first: its key
// filter is built while the old file serves, and check publishes it once
// the build has ended, so that the new file is as fast from its first query
// as the old one was. The same file opened anew (its schema changed) is
// published at once: its old store's snapshot is frozen until then.
func (f *SQLiteFilter) open(d *dbFile) error {
	old := d.store.Load()
	var gen uint64
	if old != nil {
		gen = old.Generation() + 1
	}
	s, err := store.Open(d.path, store.Options{Pool: f.cfg.Pool, BusyTimeoutMS: int(f.cfg.BusyTimeout / time.Millisecond), Generation: gen, ID: f.opened.Add(1)})
	if err != nil {
		return err
	}
	for _, t := range s.Missing() {
		log.Infof("%s: table %s is missing, so its rules are empty", d.path, t)
	}
	if s.Unindexed() {
		log.Warningf("%s: records has no index of the rules held in memory, so reading them scans every record, before ready and after every change (seconds per 10 M rows); `sqlitefilter upgrade %s` adds it", d.path, d.path)
	}
	f.dropPending(d)
	if k := f.filters[d.shard]; old != nil && k != nil && !s.SameFile(old) {
		d.pending = s
		k.Prepare(s)
		log.Infof("%s: a new file is in place; the old one serves while its key filter is built", d.path)
		return nil
	}
	return f.publish(d, s, old)
}

// checkPending publishes the file prepared for d once its key filter's
// build has ended, and drops it if another file took its place meanwhile.
// It reports whether it published or dropped it (this round's check is
// then done).
func (f *SQLiteFilter) checkPending(d *dbFile) bool {
	p, k := d.pending, f.filters[d.shard]
	if replaced, err := p.Replaced(); err != nil || replaced {
		f.dropPending(d)
		f.reopen(d)
		return true
	}
	if !k.Settled(p) {
		k.Prepare(p)
		return false
	}
	d.pending = nil
	if err := f.publish(d, p, d.store.Load()); err != nil {
		f.failFile(d, fmt.Errorf("%w; answering from the old file", err))
	}
	return true
}

// dropPending closes the file prepared for d, if any.
func (f *SQLiteFilter) dropPending(d *dbFile) {
	if p := d.pending; p != nil {
		d.pending = nil
		f.filters[d.shard].Discard(p)
		p.Close()
	}
}

// publish puts s, just opened, in place of old (nil at the first open) with
// its in-memory rules and its key filter (when one was prepared), and
// closes old. On failure s is closed and old stays in place.
func (f *SQLiteFilter) publish(d *dbFile, s, old *store.Store) error {
	if old != nil {
		// The old file may have served changes while s was prepared:
		// s starts past its last generation (no verdict cached under the
		// old one is taken for s's), and takes up the changes committed
		// to s meanwhile before it serves.
		from := s.Generation()
		f.filters[d.shard].Renumber(s, from, s.Renumber(old.Generation()+1))
		if _, err := s.Refresh(); err != nil {
			s.Close()
			return err
		}
	}
	if d.shard == 0 {
		// Shard 0's in-memory rules are built before its store is
		// published, and published first: no query ever reads the file
		// without them (current). At a swap the old file and its rules
		// serve meanwhile; a file whose rules cannot be built is not
		// published, and is tried again at the next check.
		r, err := f.loadRules(s, nil)
		if err != nil {
			s.Close()
			return err
		}
		f.rules.Store(r)
	}
	// A prepared key filter is put in use before the first query reads s;
	// otherwise the build starts now, not at the next tick.
	f.filters[d.shard].Sync(s)
	// The row gauges count up to a million rows a table where ANALYZE
	// did not: done before the file serves, that work is not taken from
	// its first queries (a shard set's counts took its first seconds).
	d.measured, d.measuredGen, d.measuredAt = s, s.Generation(), time.Now()
	f.measure(d, s)
	d.store.Store(s)
	if _, ok := s.Replica(); ok && old == nil {
		log.Infof("%s: a Litestream replica (%s%s is next to it): following the changes its follower applies", d.path, d.path, store.TXIDSuffix)
	}
	f.kickLoader()
	swapCount.WithLabelValues(d.path).Inc()
	swapTime.WithLabelValues(d.path).SetToCurrentTime()
	f.errors.Reset()
	switch {
	case old != nil:
		f.retire(old)
		log.Infof("%s: now answering from the file in place", d.path)
	case d.failing && f.Ready():
		log.Infof("%s: open; the server is ready", d.path)
	case d.failing:
		log.Infof("%s: open", d.path)
	}
	d.failing = false
	return nil
}

// reopen opens the database file; on failure it counts and logs why, and
// what the server does meanwhile.
func (f *SQLiteFilter) reopen(d *dbFile) {
	err := f.open(d)
	if err == nil {
		return
	}
	switch {
	case d.store.Load() != nil:
		err = fmt.Errorf("%w; answering from the data read last", err)
	case errors.Is(err, store.ErrReplicaWAL):
		err = fmt.Errorf("%w; until it opens, queries are answered as on_error %s says and the server is not ready", err, f.cfg.OnError)
	case f.cfg.sharded():
		err = fmt.Errorf("%w; shard %d of %d: build the shards with `sqlitefilter split` or fix the Corefile; until every shard opens, queries that need this one are answered as on_error %s says and the server is not ready", err, d.shard, len(f.files), f.cfg.OnError)
	default:
		err = fmt.Errorf("%w; create it with `sqlitefilter init %s` or fix the path in the Corefile; until it opens, queries are answered as on_error %s says and the server is not ready", err, d.path, f.cfg.OnError)
	}
	f.failFile(d, err)
	d.failing = true
}

// measure sets the row gauges of the store's tables.
func (f *SQLiteFilter) measure(d *dbFile, s *store.Store) {
	rows, err := s.TableRows()
	if err != nil {
		f.failFile(d, err)
		return
	}
	// A table the file no longer has must not keep the old file's figure.
	tableRows.DeletePartialMatch(prometheus.Labels{"database": d.path})
	for t, n := range rows {
		tableRows.WithLabelValues(d.path, t.Name()).Set(float64(n))
	}
}

// fail counts and logs (at a bounded rate) a background failure of the
// database as the Corefile names it.
func (f *SQLiteFilter) fail(err error) {
	watchErrorCount.WithLabelValues(f.cfg.Path).Inc()
	f.errors.Log(err)
}

// failFile is fail for one file: for a shard, the count is the shard's.
func (f *SQLiteFilter) failFile(d *dbFile, err error) {
	watchErrorCount.WithLabelValues(d.path).Inc()
	f.errors.Log(err)
}
