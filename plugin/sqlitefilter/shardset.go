package sqlitefilter

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coredns/caddy"
)

// maxShards bounds `shards N`: 16 shards is the largest deployment planned
// (SPEC §6); past a thousand files the pools alone would exhaust the
// process's descriptors.
const maxShards = 1024

// dbFile is one database file the handler reads and watches (watch.go): the
// only one, or one shard of a set. Each has its own Store, swapped whole when
// the file is replaced, and its own metrics label, its path.
type dbFile struct {
	shard int
	// path is the file; "" until a ShardPattern is resolved (then written
	// once by the watcher goroutine, before its store is published).
	path string
	// store is where the open Store is published. For the first file it is
	// the handler's own f.store, so that one file is read exactly as before
	// sharding existed: no slice, no extra pointer on the query path.
	store *atomic.Pointer[Store]
	own   atomic.Pointer[Store]
	// The rest belongs to the watcher goroutine (and Start before it).
	failing     bool   // opening the file fails
	measured    *Store // the store the row gauges describe
	measuredGen uint64
	measuredAt  time.Time
}

// newFiles makes the files of cfg: one, or NumShards shards.
func (f *SQLiteFilter) newFiles() {
	if f.cfg.NumShards == 0 {
		f.files = []*dbFile{{path: f.cfg.Path, store: &f.store}}
		return
	}
	f.sharded = true
	f.files = make([]*dbFile, f.cfg.NumShards)
	for i := range f.files {
		d := &dbFile{shard: i}
		d.store = &d.own
		if i == 0 {
			d.store = &f.store
		}
		if f.cfg.Shards != nil {
			d.path = f.cfg.Shards[i]
		}
		f.files[i] = d
	}
}

// isPattern reports whether a Corefile PATH is a glob (filepath.Match).
func isPattern(p string) bool { return strings.ContainsAny(p, "*?[") }

// parseShards reads the stanza's arguments (already joined to the root) and
// `shards N` into cfg:
//
//   - one PATH: one database file, as always;
//   - several PATHs: the shards, in shard order;
//   - one PATTERN: the shards are the files it matches, ordered by name.
//     With `shards N` the pattern is resolved when the files are opened,
//     and must then match exactly N files: a shard set delivered after the
//     server starts (by an init container or a sidecar) is waited for as
//     one missing file is. Without it, N is the number of files the pattern
//     matches now, and a pattern that matches nothing is an error: the
//     server could not tell how many shards to wait for, and a typo would
//     otherwise leave it unready for ever.
//
// line is the line of the directive, which errors name.
func parseShards(c *caddy.Controller, line int, args []string, cfg *Config) error {
	errf := func(format string, a ...any) error {
		return fmt.Errorf("%s:%d - Error during parsing: %s", c.File(), line, fmt.Sprintf(format, a...))
	}
	n := cfg.NumShards
	if slices.ContainsFunc(args, isPattern) {
		if len(args) > 1 {
			return errf("a PATTERN (%s) must be the only argument: the order of the shards is the order of the names it matches", strings.Join(args, " "))
		}
		pattern := args[0]
		if _, err := filepath.Match(pattern, ""); err != nil {
			return errf("%q: %v", pattern, err)
		}
		cfg.Path = pattern
		if n > 0 {
			cfg.ShardPattern = pattern
			return nil
		}
		matches, err := filepath.Glob(pattern)
		if err != nil {
			return errf("%q: %v", pattern, err)
		}
		if len(matches) == 0 {
			return errf("%s matches no file; if the shards arrive after the server starts, say how many with `shards N` and the server waits for them", pattern)
		}
		if len(matches) > maxShards {
			return errf("%s matches %d files, more than %d shards", pattern, len(matches), maxShards)
		}
		slices.Sort(matches)
		args = matches
	} else {
		if n > 0 && n != len(args) {
			return errf("shards %d, but %d files are listed", n, len(args))
		}
		if len(args) > maxShards {
			return errf("%d files, more than %d shards", len(args), maxShards)
		}
		for i, a := range args {
			if slices.Contains(args[:i], a) {
				return errf("%s is listed twice", a)
			}
		}
	}
	if len(args) == 1 {
		cfg.Path, cfg.NumShards = args[0], 0
		return nil
	}
	if cfg.ShardPattern == "" && cfg.Path == "" {
		cfg.Path = strings.Join(args, " ")
	}
	cfg.Shards, cfg.NumShards = args, len(args)
	return nil
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

// shardsReady reports whether every shard is open.
func (f *SQLiteFilter) shardsReady() bool {
	for _, d := range f.files {
		if d.store.Load() == nil {
			return false
		}
	}
	return true
}

// dataGeneration identifies the data every decision reads, over all files:
// it grows whenever a committed change is noticed in any of them or any is
// opened anew, so state derived from decisions (a verdict cache) that is
// keyed on it never outlives a change in any shard. It is the sum, over the
// files, of the store's generation plus one, or 0 for a file not open.
func (f *SQLiteFilter) dataGeneration() uint64 {
	if !f.sharded {
		if s := f.store.Load(); s != nil {
			return s.Generation() + 1
		}
		return 0
	}
	var g uint64
	for _, d := range f.files {
		if s := d.store.Load(); s != nil {
			g += s.Generation() + 1
		}
	}
	return g
}
