package store_test

import (
	"reflect"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/rules"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// explain decides name over the shards as the server does once it has
// loaded its in-memory rules: the regex set read from shard 0 with the
// default caps, every probe sent to the shard of its key.
func explain(sh store.Shards, name string) (policy.Verdict, error) {
	set, err := rules.Load(sh[0], rules.DefaultLimits, nil, func(policy.Skipped, string) {})
	if err != nil {
		return policy.Verdict{}, err
	}
	var v policy.Verdict
	err = store.View(sh, func(l policy.Lookup) error {
		var err error
		v, err = policy.Decide(rules.Source{Lookup: l, Regex: set.Regex}, policy.Canonical(name))
		return err
	})
	return v, err
}

// layoutRows are written with the per-type names, which work on both layouts.
var layoutRows = testkit.Rows(
	testkit.BlockExact("ads.example.com"),
	testkit.BlockWildcard("doubleclick.net", "ads.example.com"),
	testkit.Allow("good.doubleclick.net"),
	testkit.DNSBlock("upstream.example"),
	testkit.Alias("intel.com", "keweon.center"),
)

func openLayout(t *testing.T, l schema.Layout) *store.Store {
	t.Helper()
	path := testkit.NewDB(t, l, "wal", layoutRows...)
	s, err := store.Open(path, store.Options{Pool: 1, BusyTimeoutMS: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if s.Layout() != l {
		t.Fatalf("store detected %s, want %s", s.Layout(), l)
	}
	return s
}

func TestBothLayoutsGiveIdenticalVerdicts(t *testing.T) {
	perType, normalized := store.Shards{openLayout(t, schema.PerType)}, store.Shards{openLayout(t, schema.Normalized)}
	names := []string{
		"ads.example.com", "x.ads.example.com", "example.com", "doubleclick.net",
		"a.b.doubleclick.net", "good.doubleclick.net", "x.good.doubleclick.net",
		"upstream.example", "deep.upstream.example", "intel.com", "www.intel.com", "com", "",
	}
	for _, name := range names {
		var want, got policy.Verdict
		var err error
		if want, err = explain(perType, name); err != nil {
			t.Fatal(err)
		}
		if got, err = explain(normalized, name); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: normalized %+v, per-type %+v", name, got, want)
		}
	}
	v, err := explain(normalized, "x.ads.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if v.Action != policy.ActionBlock || v.Rule.Table != schema.BlockWildcard {
		t.Errorf("x.ads.example.com on normalized: %+v, want block by block_wildcard", v)
	}
}

// BenchmarkDecideLayouts compares a decision on each layout: the normalized
// one probes domains and records (two b-trees) where per-type probes one.
// go test -run - -bench DecideLayouts ./plugin/sqlitefilter/store
func BenchmarkDecideLayouts(b *testing.B) {
	for _, l := range []schema.Layout{schema.PerType, schema.Normalized} {
		path := testkit.NewDB(b, l, "wal")
		testkit.ExecSQL(b, path, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
			INSERT INTO block_wildcard SELECT 'host-' || i || '.bench.example' FROM n`)
		s, err := store.Open(path, store.Options{Pool: 1, BusyTimeoutMS: 1000})
		if err != nil {
			b.Fatal(err)
		}
		sh := store.Shards{s}
		for _, name := range []string{"a.b.host-4242.bench.example", "a.b.host-x.bench.example"} {
			b.Run(l.String()+"/"+name, func(b *testing.B) {
				for b.Loop() {
					store.View(sh, func(l policy.Lookup) error { _, err := policy.Decide(rules.Source{Lookup: l}, name); return err })
				}
			})
		}
		s.Close()
	}
}
