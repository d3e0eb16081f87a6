package sqlitefilter

import (
	"errors"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/prometheus/client_golang/prometheus"
)

// statsInterval is the least time between two row estimates of a changing
// database: an estimate may count up to rowCountCap rows per table.
const statsInterval = time.Minute

// watch follows the database file every refresh interval: it opens it when
// none is open, opens it anew when another file was renamed over it, and
// otherwise takes up the changes committed to it. Each check costs three
// stats (the file, its -wal and -shm) and one PRAGMA data_version, never a
// table scan.
func (f *SQLiteFilter) watch() {
	defer f.done.Done()
	t := time.NewTicker(f.cfg.Refresh)
	defer t.Stop()
	var (
		measured    *Store // the store the row gauges describe
		measuredGen uint64
		measuredAt  time.Time
	)
	for {
		if s := f.store.Load(); s != nil && (s != measured || s.Generation() != measuredGen && time.Since(measuredAt) >= statsInterval) {
			measured, measuredGen, measuredAt = s, s.Generation(), time.Now()
			f.measure(s)
		}
		select {
		case <-f.stop:
			return
		case <-t.C:
			f.check()
			// The Bloom filter follows the store: its first build starts
			// at the first tick, so that start-up never waits for it.
			if s := f.store.Load(); s != nil {
				f.keys.sync(s)
			}
		}
	}
}

// check is one round of watch.
func (f *SQLiteFilter) check() {
	s := f.store.Load()
	if s == nil {
		f.reopen()
		return
	}
	replaced, err := s.Replaced()
	if err != nil {
		// Deleted (or unreadable directory): the open connections still hold
		// the last file, so the server keeps answering from it until a new
		// file appears.
		f.fail(fmt.Errorf("check %s: %w; answering from the data read last", f.cfg.Path, err))
	} else if replaced {
		if left := s.LeftSidecar(); left != "" {
			f.fail(fmt.Errorf("%s was replaced but %s of the old file is still there: remove the old -wal and -shm before renaming a new file in place (see \"Updating the database\"); answering from the old file", f.cfg.Path, left))
			return
		}
		f.reopen()
		return
	}
	changed, err := s.Refresh()
	if err != nil {
		f.fail(err)
		// A writer's lock held beyond busy_timeout passes; anything else may
		// be a file damaged in place, which a fresh open tells. Until one
		// succeeds, the old connections keep serving what they can.
		var se sqlite3.Error
		if !errors.As(err, &se) || se.Code != sqlite3.ErrBusy && se.Code != sqlite3.ErrLocked {
			f.reopen()
		}
		return
	}
	if changed {
		reloadCount.WithLabelValues(f.cfg.Path).Inc()
		reloadTime.WithLabelValues(f.cfg.Path).SetToCurrentTime()
		f.kickLoader()
	}
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
func (f *SQLiteFilter) open() error {
	old := f.store.Load()
	var gen uint64
	if old != nil {
		gen = old.Generation() + 1
	}
	s, err := OpenStore(f.cfg.Path, StoreOptions{Pool: f.cfg.Pool, BusyTimeoutMS: int(f.cfg.BusyTimeout / time.Millisecond), Generation: gen})
	if err != nil {
		return err
	}
	for _, t := range s.Missing() {
		log.Infof("%s: table %s is missing, so its rules are empty", f.cfg.Path, t)
	}
	if old != nil {
		// A swap: build the new file's in-memory rules while the old file
		// still serves, so that queries move to the new data and its rules
		// together. (At start nothing waits: the loader builds them. On a
		// failure here the loader retries and logs it.)
		if r, err := loadRules(s, &f.cfg, nil, f.skips); err == nil {
			f.rules.Store(r)
		}
	}
	f.store.Store(s)
	f.kickLoader()
	swapCount.WithLabelValues(f.cfg.Path).Inc()
	swapTime.WithLabelValues(f.cfg.Path).SetToCurrentTime()
	f.errors.Reset()
	switch {
	case old != nil:
		old.Close()
		log.Infof("%s: now answering from the file in place", f.cfg.Path)
	case f.failing:
		log.Infof("%s: open; the server is ready", f.cfg.Path)
	}
	f.failing = false
	return nil
}

// reopen opens the database file; on failure it counts and logs why, and
// what the server does meanwhile.
func (f *SQLiteFilter) reopen() {
	err := f.open()
	if err == nil {
		return
	}
	if f.store.Load() == nil {
		err = fmt.Errorf("%w; create it with `sqlitefilter init %s` or fix the path in the Corefile; until it opens, queries are answered as on_error %s says and the server is not ready", err, f.cfg.Path, f.cfg.OnError)
	} else {
		err = fmt.Errorf("%w; answering from the data read last", err)
	}
	f.fail(err)
	f.failing = true
}

// measure sets the row gauges of the store's tables.
func (f *SQLiteFilter) measure(s *Store) {
	rows, err := s.TableRows()
	if err != nil {
		f.fail(err)
		return
	}
	// A table the file no longer has must not keep the old file's figure.
	tableRows.DeletePartialMatch(prometheus.Labels{"database": f.cfg.Path})
	for t, n := range rows {
		tableRows.WithLabelValues(f.cfg.Path, t.Name()).Set(float64(n))
	}
}

// fail counts and logs (at a bounded rate) a background failure.
func (f *SQLiteFilter) fail(err error) {
	watchErrorCount.WithLabelValues(f.cfg.Path).Inc()
	f.errors.Log(err)
}
