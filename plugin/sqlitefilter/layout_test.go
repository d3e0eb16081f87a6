package sqlitefilter

import (
	"database/sql"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// layoutRows are written with the per-type names, which work on both layouts.
const layoutRows = `
INSERT INTO block_exact VALUES ('ads.example.com');
INSERT INTO block_wildcard VALUES ('doubleclick.net'), ('ads.example.com');
INSERT INTO fqdn_dns_allow VALUES ('good.doubleclick.net');
INSERT INTO fqdn_dns_block VALUES ('upstream.example');
INSERT INTO domain_alias VALUES ('intel.com', 'keweon.center');
`

func openLayout(t *testing.T, l schema.Layout) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.db")
	if err := schema.CreateLayout(path, l); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", schema.DSN(path, "mode=rw"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(layoutRows); err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(path, StoreOptions{Pool: 1, BusyTimeoutMS: 1000})
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
	perType, normalized := openLayout(t, schema.PerType), openLayout(t, schema.Normalized)
	names := []string{
		"ads.example.com", "x.ads.example.com", "example.com", "doubleclick.net",
		"a.b.doubleclick.net", "good.doubleclick.net", "x.good.doubleclick.net",
		"upstream.example", "deep.upstream.example", "intel.com", "www.intel.com", "com", "",
	}
	for _, name := range names {
		var want, got Verdict
		var err error
		if want, err = Explain(perType, DefaultConfig(), name); err != nil {
			t.Fatal(err)
		}
		if got, err = Explain(normalized, DefaultConfig(), name); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: normalized %+v, per-type %+v", name, got, want)
		}
	}
	v, err := Explain(normalized, DefaultConfig(), "x.ads.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if v.Action != ActionBlock || v.Rule.Table != schema.BlockWildcard {
		t.Errorf("x.ads.example.com on normalized: %+v, want block by block_wildcard", v)
	}
}

// BenchmarkDecideLayouts compares a decision on each layout: the normalized
// one probes domains and records (two b-trees) where per-type probes one.
// go test -run - -bench DecideLayouts ./plugin/sqlitefilter
func BenchmarkDecideLayouts(b *testing.B) {
	for _, l := range []schema.Layout{schema.PerType, schema.Normalized} {
		path := filepath.Join(b.TempDir(), "rules.db")
		if err := schema.CreateLayout(path, l); err != nil {
			b.Fatal(err)
		}
		db, err := sql.Open("sqlite3", schema.DSN(path, "mode=rw"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.Exec(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
			INSERT INTO block_wildcard SELECT 'host-' || i || '.bench.example' FROM n`); err != nil {
			b.Fatal(err)
		}
		db.Close()
		s, err := OpenStore(path, StoreOptions{Pool: 1, BusyTimeoutMS: 1000})
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range []string{"a.b.host-4242.bench.example", "a.b.host-x.bench.example"} {
			b.Run(l.String()+"/"+name, func(b *testing.B) {
				for b.Loop() {
					s.View(func(l Lookup) error { _, err := Decide(withRules{Lookup: l}, name); return err })
				}
			})
		}
		s.Close()
	}
}
