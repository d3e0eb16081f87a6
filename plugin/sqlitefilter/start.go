package sqlitefilter

import (
	"fmt"
	"time"

	"github.com/coredns/caddy"
)

// Start opens the database and starts watching it. At the server's start, a
// database that cannot be opened does not stop the server: the watcher keeps
// trying every refresh interval, queries meanwhile follow on_error, and Ready
// stays false, so a Kubernetes readiness probe holds traffic back until the
// file arrives (an init container or a sidecar may still be writing it). At a
// Corefile reload it fails the reload instead, so the running configuration
// keeps serving rather than a new one that cannot filter, and waits until
// the new instance is ready (its key filter built, within reloadWait), so
// that the running one serves until the new one is right and fast.
func (f *SQLiteFilter) Start() error {
	if caddy.Started() {
		// The running instance serves until this one is ready: its
		// filters' first builds yield to its queries.
		for _, k := range f.filters {
			k.YieldFirstBuild()
		}
		if err := f.openAll(); err != nil {
			return fmt.Errorf("%w; the reload is refused and the running configuration keeps serving", err)
		}
		f.waitReady(reloadWait)
	} else if f.resolvePattern() {
		for _, d := range f.files {
			f.reopen(d)
		}
	}
	f.stop = make(chan struct{})
	f.kick = make(chan struct{}, 1)
	f.done.Add(2)
	go f.watch()
	go f.load()
	for _, u := range []*upstreamGroup{f.allowUp, f.blockUp} {
		if u != nil {
			u.start()
		}
	}
	return nil
}

// Stop stops watching and closes the database.
func (f *SQLiteFilter) Stop() error {
	if f.stop == nil {
		return nil
	}
	close(f.stop)
	f.done.Wait()
	f.retiring.Wait()
	for _, k := range f.filters {
		k.Close()
	}
	f.stop = nil
	for _, u := range []*upstreamGroup{f.allowUp, f.blockUp} {
		if u != nil {
			u.stop()
		}
	}
	f.rules.Store(nil)
	var first error
	for _, d := range f.files {
		f.dropPending(d)
		if s := d.store.Swap(nil); s != nil {
			if err := s.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// openAll opens every file, or none: on a failure it closes those it opened.
func (f *SQLiteFilter) openAll() error {
	if f.cfg.ShardPattern != "" {
		if _, err := f.matchPattern(); err != nil {
			return err
		}
		f.resolvePattern()
	}
	for _, d := range f.files {
		if err := f.open(d); err != nil {
			for _, d := range f.files {
				if s := d.store.Swap(nil); s != nil {
					s.Close()
				}
			}
			return err
		}
	}
	return nil
}

// reloadWait bounds how long a reload waits for the new instance's key
// filter: past it the new instance serves, SQLite answering every probe
// until the filter is built.
const reloadWait = 2 * time.Minute

// waitReady waits until Ready or for at most d.
func (f *SQLiteFilter) waitReady(d time.Duration) {
	for deadline := time.Now().Add(d); !f.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			log.Warningf("%s: not ready after %s; serving while the key filter is built", f.cfg.Path, d)
			return
		}
	}
}
