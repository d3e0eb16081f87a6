package store_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

func TestShardedVerdictsEqualTheUnsplitFile(t *testing.T) {
	rows, queries := testkit.ShardCorpus()
	opts := store.Options{Pool: 1, BusyTimeoutMS: 1000}
	for _, layout := range []struct {
		name   string
		layout schema.Layout
	}{{"per-type", schema.PerType}, {"normalized", schema.Normalized}} {
		src := testkit.NewDB(t, layout.layout, "wal", rows...)
		single, err := store.Open(src, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer single.Close()
		want := make([]policy.Verdict, len(queries))
		actions := map[policy.Action]int{}
		for i, q := range queries {
			if want[i], err = explain(store.Shards{single}, q); err != nil {
				t.Fatal(err)
			}
			actions[want[i].Action]++
		}
		// The corpus must exercise every kind of verdict, or equality
		// would prove little.
		for _, a := range []policy.Action{policy.ActionPass, policy.ActionAllow, policy.ActionBlock, policy.ActionBlockUpstream, policy.ActionAlias} {
			if actions[a] == 0 {
				t.Fatalf("%s: no query decided %s: %v", layout.name, a, actions)
			}
		}

		for _, n := range []int{1, 2, 3, 16} {
			t.Run(fmt.Sprintf("%s/%d shards", layout.name, n), func(t *testing.T) {
				paths, _ := testkit.SplitShards(t, src, n)
				sh, err := store.OpenShards(paths, opts)
				if err != nil {
					t.Fatal(err)
				}
				defer sh.Close()
				for i, q := range queries {
					got, err := explain(sh, q)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, want[i]) {
						t.Errorf("%s: sharded %+v, unsplit %+v", q, got, want[i])
					}
				}
			})
		}
	}
}
