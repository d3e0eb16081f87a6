package sqlitefilter

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/coredns/caddy"
)

// maxShards bounds `shards N`: 16 shards is the largest deployment planned;
// past a thousand files the pools alone would exhaust the process's
// descriptors.
const maxShards = 1024

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
