package store

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

func TestRouterProbesEachKeyInItsOwnShard(t *testing.T) {
	const n = 4
	dir := t.TempDir()
	var paths []string
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("shard-%02d.db", i))
		testkit.CreateDB(t, p, schema.PerType, "wal")
		paths = append(paths, p)
	}
	sh, err := OpenShards(paths, Options{Pool: 1, BusyTimeoutMS: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	r := NewRouter(sh)
	defer r.Release()
	// probes records, by shard, the keys asked: after each probe the only
	// connection the router holds is the one of the shard it asked.
	var probes [n][]string
	probe := func(key string, ask func() error) {
		t.Helper()
		if err := ask(); err != nil {
			t.Fatal(err)
		}
		for i, h := range r.held {
			if h.c != nil {
				probes[i] = append(probes[i], key)
			}
		}
		r.Release()
	}
	name := "a.b.c.d.example.com"
	for s, more := name, true; more; s, more = policy.Parent(s) {
		probe(s, func() error { _, err := r.Lists(schema.BlockWildcard, s); return err })
		probe(s, func() error { _, _, err := r.AliasTarget(s); return err })
	}
	seen := 0
	for i, keys := range probes {
		for _, k := range keys {
			seen++
			if schema.ShardOf(k, n) != i {
				t.Errorf("%q probed in shard %d, its shard is %d", k, i, schema.ShardOf(k, n))
			}
		}
	}
	if want := 2 * 6; seen != want {
		t.Errorf("%d probes, want %d (two per suffix)", seen, want)
	}
}
