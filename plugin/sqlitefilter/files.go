package sqlitefilter

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
)

// dbFile is one database file the handler reads and watches (watch.go): the
// only one, or one shard of a set. Each has its own Store, swapped whole when
// the file is replaced, and its own metrics label, its path.
type dbFile struct {
	shard int
	// path is the file; "" until a ShardPattern is resolved (then written
	// once by the watcher goroutine, before its store is published).
	path  string
	store atomic.Pointer[store.Store]
	// The rest belongs to the watcher goroutine (and Start before it).
	// pending is a new file renamed over path, open and being prepared
	// (its key filter built) while store serves; published by the watcher.
	pending     *store.Store
	failing     bool         // opening the file fails
	measured    *store.Store // the store the row gauges describe
	measuredGen uint64
	measuredAt  time.Time
}

// files are the database files of a handler in shard order. They are the
// store.Set every decision reads.
type files []*dbFile

// newFiles makes the files of cfg: one, or NumShards shards.
func newFiles(cfg Config) files {
	if !cfg.sharded() {
		return files{{path: cfg.Path}}
	}
	fs := make(files, cfg.NumShards)
	for i := range fs {
		fs[i] = &dbFile{shard: i}
		if cfg.Shards != nil {
			fs[i].path = cfg.Shards[i]
		}
	}
	return fs
}

// Len implements store.Set.
func (fs files) Len() int { return len(fs) }

// Store implements store.Set.
func (fs files) Store(i int) *store.Store { return fs[i].store.Load() }

// first is the store of the only file, or of shard 0, whose in-memory rules
// every decision uses.
func (fs files) first() *store.Store { return fs[0].store.Load() }

// open reports whether every file is open.
func (fs files) open() bool {
	for _, d := range fs {
		if d.store.Load() == nil {
			return false
		}
	}
	return true
}

// generation identifies the data every decision reads, over all files: it
// changes whenever a committed change is noticed in any of them or any is
// opened anew, so state derived from decisions (a verdict cache) that is
// keyed on it never outlives a change in any file. Of one file it is the
// store's generation; of a shard set, the sum over the files of the store's
// generation plus one, or 0 for a file not open.
func (fs files) generation() uint64 {
	if len(fs) == 1 {
		if s := fs.first(); s != nil {
			return s.Generation()
		}
		return 0
	}
	var g uint64
	for _, d := range fs {
		if s := d.store.Load(); s != nil {
			g += s.Generation() + 1
		}
	}
	return g
}

// resolvePattern gives the files their paths when the stanza named a
// PATTERN with `shards N`: once the pattern matches exactly N files, they
// are the shards, by name, until the Corefile is reloaded. It reports
// whether the files have their paths.
func (f *SQLiteFilter) resolvePattern() bool {
	if f.files[0].path != "" || f.cfg.ShardPattern == "" {
		return true
	}
	matches, err := f.matchPattern()
	if err != nil {
		f.fail(fmt.Errorf("%w; until they are there, queries are answered as on_error %s says and the server is not ready", err, f.cfg.OnError))
		return false
	}
	for i, d := range f.files {
		d.path = matches[i]
	}
	log.Infof("%s: shards %s", f.cfg.ShardPattern, strings.Join(matches, " "))
	return true
}

// matchPattern returns the files the PATTERN matches, by name, or an error
// when they are not exactly `shards N`.
func (f *SQLiteFilter) matchPattern() ([]string, error) {
	matches, err := filepath.Glob(f.cfg.ShardPattern)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.cfg.ShardPattern, err)
	}
	if len(matches) != len(f.files) {
		return nil, fmt.Errorf("%s matches %d files, want shards %d", f.cfg.ShardPattern, len(matches), len(f.files))
	}
	slices.Sort(matches)
	return matches, nil
}
