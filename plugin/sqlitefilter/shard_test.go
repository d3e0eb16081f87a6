package sqlitefilter

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// shardCorpus returns rows over a small name space, so that rows sit at
// every level of each other's suffixes, and the names to ask about: every
// name of the space and a deeper one below each.
func shardCorpus() (rows []Row, queries []string) {
	r := rand.New(rand.NewPCG(7, 11))
	labels := []string{"a", "ads", "cdn", "www", "x1"}
	bases := []string{"example.com", "example.net", "tracker.org", "shop.co.uk"}
	var names []string
	for _, b := range bases {
		names = append(names, b)
		for _, l1 := range labels {
			names = append(names, l1+"."+b)
			for _, l2 := range labels {
				names = append(names, l2+"."+l1+"."+b)
			}
		}
	}
	names = append(names, "com", "net", "org", "co.uk", "uk")
	for _, n := range names {
		queries = append(queries, n, "deep.er."+n)
		switch p := r.IntN(100); {
		case p < 5:
			rows = append(rows, allow(n)...)
		case p < 15:
			rows = append(rows, exact(n)...)
		case p < 23:
			rows = append(rows, wildcard(n)...)
		case p < 28:
			rows = append(rows, dnsBlock(n)...)
		case p < 35:
			rows = append(rows, aliasRow(n, names[r.IntN(len(names))])...)
		}
	}
	rows = rowsOf(rows, regexRows(`^x1\.cdn\.`), rewrite4("192.0.2.1", "198.51.100.1"))
	return rows, queries
}

func TestShardedVerdictsEqualTheUnsplitFile(t *testing.T) {
	rows, queries := shardCorpus()
	opts := StoreOptions{Pool: 1, BusyTimeoutMS: 1000}
	cfg := DefaultConfig()
	for _, layout := range []struct {
		name  string
		newDB NewDBFunc
	}{{"per-type", perTypeDB}, {"normalized", normalizedDB}} {
		src := layout.newDB(t, rows)
		single, err := OpenStore(src, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer single.Close()
		want := make([]Verdict, len(queries))
		actions := map[Action]int{}
		for i, q := range queries {
			if want[i], err = Explain(single, cfg, q); err != nil {
				t.Fatal(err)
			}
			actions[want[i].Action]++
		}
		// The corpus must exercise every kind of verdict, or equality
		// would prove little.
		for _, a := range []Action{ActionPass, ActionAllow, ActionBlock, ActionBlockUpstream, ActionAlias} {
			if actions[a] == 0 {
				t.Fatalf("%s: no query decided %s: %v", layout.name, a, actions)
			}
		}

		for _, n := range []int{1, 2, 3, 16} {
			t.Run(fmt.Sprintf("%s/%d shards", layout.name, n), func(t *testing.T) {
				dir := t.TempDir()
				var paths []string
				for i := range n {
					paths = append(paths, filepath.Join(dir, fmt.Sprintf("shard-%02d.db", i)))
				}
				if err := schema.Split(src, paths); err != nil {
					t.Fatal(err)
				}
				sh, err := OpenShards(paths, opts)
				if err != nil {
					t.Fatal(err)
				}
				defer sh.Close()
				for i, q := range queries {
					got, err := ExplainShards(sh, cfg, q)
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

func TestShardedLookupProbesEachKeyInItsOwnShard(t *testing.T) {
	const n = 4
	var probes [n][]string
	lookups := make(shardedLookup, n)
	for i := range lookups {
		lookups[i] = recordingLookup{&probes[i]}
	}
	name := "a.b.c.d.example.com"
	for s, more := name, true; more; s, more = Parent(s) {
		lookups.Has(schema.BlockWildcard, s)
		lookups.AliasTarget(s)
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

// recordingLookup finds nothing and records the keys it was asked about.
type recordingLookup struct{ keys *[]string }

func (r recordingLookup) Has(_ schema.Table, key string) (bool, error) {
	*r.keys = append(*r.keys, key)
	return false, nil
}

func (r recordingLookup) AliasTarget(name string) (string, bool, error) {
	*r.keys = append(*r.keys, name)
	return "", false, nil
}
