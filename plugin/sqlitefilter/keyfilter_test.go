package sqlitefilter

import (
	"testing"
	"time"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// startFilter starts a handler on path with the Bloom filter on and waits
// until the filter is complete. The refresh ticker is long: the test drives
// Refresh itself.
func startFilter(t *testing.T, path string, maxBytes int64) *SQLiteFilter {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Path, cfg.Pool, cfg.Refresh, cfg.CacheSize, cfg.BloomMaxBytes = path, 2, time.Hour, 1000, maxBytes
	f := New(cfg)
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Stop() })
	f.keys.sync(f.store.Load()) // the first tick would start the build
	return f
}

func waitFilterReady(t *testing.T, f *SQLiteFilter) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !f.keys.ready(f.store.Load()); {
		if time.Now().After(deadline) {
			t.Fatal("Bloom filter not ready after 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// refresh is what the watch loop does on each tick.
func refresh(t *testing.T, f *SQLiteFilter) {
	t.Helper()
	s := f.store.Load()
	if _, err := s.Refresh(); err != nil {
		t.Fatal(err)
	}
	f.keys.sync(s)
}

func wantAction(t *testing.T, f *SQLiteFilter, name string, want Action) {
	t.Helper()
	v, err := f.decide(name, f.currentRules(), new(decideStats))
	if err != nil {
		t.Fatal(err)
	}
	if v.Action != want {
		t.Fatalf("decide(%s) = %v, want %v", name, v.Action, want)
	}
}

func TestRowAddedAfterFilterBuiltIsFound(t *testing.T) {
	tests := []struct {
		name      string
		changeLog bool
		// writer runs after the filter is built
		writer []string
	}{
		{"change log", true, []string{`INSERT INTO block_wildcard VALUES ('late.example')`}},
		{"change log, update of a key", true, []string{`UPDATE block_wildcard SET Domain = 'late.example' WHERE Domain = 'early.example'`}},
		{"no change log", false, []string{`INSERT INTO block_wildcard VALUES ('late.example')`}},
		{"change log trimmed before it was read", true, []string{
			`INSERT INTO block_wildcard VALUES ('late.example')`,
			`INSERT INTO block_exact VALUES ('other.example')`,
			`DELETE FROM sqlitefilter_changes`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, w := newTestDB(t, "wal")
			if !tc.changeLog {
				for _, tb := range schema.LoggedTables {
					for _, trig := range schema.ChangeLogTriggers(tb) {
						if _, err := w.Exec(`DROP TRIGGER ` + trig); err != nil {
							t.Fatal(err)
						}
					}
				}
				if _, err := w.Exec(`DROP TABLE sqlitefilter_changes`); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := w.Exec(`INSERT INTO block_wildcard VALUES ('early.example')`); err != nil {
				t.Fatal(err)
			}
			f := startFilter(t, path, 1<<20)
			waitFilterReady(t, f)
			if got := f.keys.state.Load().logged; got != tc.changeLog {
				t.Fatalf("filter uses the change log = %v, want %v", got, tc.changeLog)
			}
			wantAction(t, f, "www.late.example", ActionPass) // also fills the cache
			for _, q := range tc.writer {
				if _, err := w.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			refresh(t, f)
			wantAction(t, f, "www.late.example", ActionBlock)
			wantAction(t, f, "late.example", ActionBlock)
			if tc.name == "change log" && !f.keys.ready(f.store.Load()) {
				t.Fatal("filter not back in use after reading the change log")
			}
		})
	}
}

func TestFilterAnswersAbsentWithoutSQLite(t *testing.T) {
	path, w := newTestDB(t, "wal")
	if _, err := w.Exec(`INSERT INTO block_exact VALUES ('ads.example.com'); INSERT INTO fqdn_dns_allow VALUES ('ok.example.com')`); err != nil {
		t.Fatal(err)
	}
	f := startFilter(t, path, 1<<20)
	waitFilterReady(t, f)
	s := f.store.Load()
	probes := 0
	src := noRegex{f.keys.wrap(s, s.Generation(), countingLookup{n: &probes}, new(int))}
	for _, name := range []string{"a.b.c.nothing.test", "x.y.z"} {
		if v, err := Decide(src, name); err != nil || v.Action != ActionPass {
			t.Fatalf("Decide(%s) = %v, %v; want pass", name, v, err)
		}
	}
	if probes > 1 { // one false positive is possible, two almost never
		t.Fatalf("%d SQLite probes for names in no table, want ~0", probes)
	}
	for _, name := range []string{"ads.example.com", "ok.example.com"} {
		probes = 0
		if _, err := Decide(src, name); err != nil || probes == 0 {
			t.Fatalf("Decide(%s) asked SQLite %d times, want at least once (its row exists)", name, probes)
		}
	}
}

// countingLookup counts the probes that reach it and finds nothing.
type countingLookup struct{ n *int }

func (c countingLookup) Has(schema.Table, string) (bool, error) { *c.n++; return false, nil }

func (c countingLookup) AliasTarget(string) (string, bool, error) { *c.n++; return "", false, nil }

type noRegex struct{ Lookup }

func (noRegex) MatchRegex(string) (string, bool) { return "", false }

func TestFilterAboveMemoryCapIsNotUsed(t *testing.T) {
	path, w := newTestDB(t, "wal")
	if _, err := w.Exec(`INSERT INTO block_exact VALUES ('ads.example.com')`); err != nil {
		t.Fatal(err)
	}
	f := startFilter(t, path, 1024) // below the smallest filter
	time.Sleep(50 * time.Millisecond)
	if f.keys.ready(f.store.Load()) {
		t.Fatal("a filter above bloom_max_memory is in use")
	}
	wantAction(t, f, "ads.example.com", ActionBlock)
}
