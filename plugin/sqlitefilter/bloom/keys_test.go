package bloom

import (
	"testing"
	"time"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/rules"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// testLogger sends what the filter says to the test log.
type testLogger struct{ t testing.TB }

func (l testLogger) Infof(format string, v ...any)    { l.t.Logf("info: "+format, v...) }
func (l testLogger) Warningf(format string, v ...any) { l.t.Logf("warning: "+format, v...) }

// startFilter opens path and starts building a key filter capped at maxBytes
// in front of it, as the first tick of the watch loop would. The test drives
// Refresh and Sync itself.
func startFilter(t *testing.T, path string, maxBytes int64) (*KeyFilter, *store.Store) {
	t.Helper()
	s, err := store.Open(path, store.Options{Pool: 2, BusyTimeoutMS: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	k := New(maxBytes, testLogger{t})
	t.Cleanup(k.Close) // before the store closes: it stops a running build
	k.Sync(s)
	return k, s
}

func waitFilterReady(t *testing.T, k *KeyFilter, s *store.Store) {
	t.Helper()
	testkit.Eventually(t, "the Bloom filter to be ready", 10*time.Second, func() bool { return k.Ready(s) })
}

// refresh is what the watch loop does on each tick.
func refresh(t *testing.T, k *KeyFilter, s *store.Store) {
	t.Helper()
	if _, err := s.Refresh(); err != nil {
		t.Fatal(err)
	}
	k.Sync(s)
}

// wantAction decides name as the server does for one file: the filter in
// front of the store, at the store's current generation.
func wantAction(t *testing.T, k *KeyFilter, s *store.Store, name string, want policy.Action) {
	t.Helper()
	r := store.NewRouter(store.Shards{s})
	defer r.Release()
	v, err := policy.Decide(rules.Source{Lookup: new(Filtered).Wrap([]*KeyFilter{k}, store.Shards{s}, r, new(int))}, name)
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
			path := testkit.NewDB(t, schema.PerType, "wal")
			if !tc.changeLog {
				var drop []string
				for _, tb := range schema.LoggedTables {
					for _, trig := range schema.ChangeLogTriggers(tb.Name()) {
						drop = append(drop, `DROP TRIGGER `+trig)
					}
				}
				testkit.ExecSQL(t, path, append(drop, `DROP TABLE sqlitefilter_changes`)...)
			}
			testkit.InsertRows(t, path, testkit.BlockWildcard("early.example")...)
			k, s := startFilter(t, path, 1<<20)
			waitFilterReady(t, k, s)
			if got := k.state.Load().logged; got != tc.changeLog {
				t.Fatalf("filter uses the change log = %v, want %v", got, tc.changeLog)
			}
			wantAction(t, k, s, "www.late.example", policy.ActionPass)
			testkit.ExecSQL(t, path, tc.writer...)
			refresh(t, k, s)
			wantAction(t, k, s, "www.late.example", policy.ActionBlock)
			wantAction(t, k, s, "late.example", policy.ActionBlock)
			if tc.name == "change log" && !k.Ready(s) {
				t.Fatal("filter not back in use after reading the change log")
			}
		})
	}
}

func TestFilterAnswersAbsentWithoutSQLite(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "wal",
		testkit.Rows(testkit.BlockExact("ads.example.com"), testkit.Allow("ok.example.com"))...)
	k, s := startFilter(t, path, 1<<20)
	waitFilterReady(t, k, s)
	probes := 0
	src := rules.Source{Lookup: new(Filtered).Wrap([]*KeyFilter{k}, store.Shards{s}, countingLookup{n: &probes}, new(int))}
	for _, name := range []string{"a.b.c.nothing.test", "x.y.z"} {
		if v, err := policy.Decide(src, name); err != nil || v.Action != policy.ActionPass {
			t.Fatalf("Decide(%s) = %v, %v; want pass", name, v, err)
		}
	}
	if probes > 1 { // one false positive is possible, two almost never
		t.Fatalf("%d SQLite probes for names in no table, want ~0", probes)
	}
	for _, name := range []string{"ads.example.com", "ok.example.com"} {
		probes = 0
		if _, err := policy.Decide(src, name); err != nil || probes == 0 {
			t.Fatalf("Decide(%s) asked SQLite %d times, want at least once (its row exists)", name, probes)
		}
	}
}

// countingLookup counts the probes that reach it and finds nothing.
type countingLookup struct{ n *int }

func (c countingLookup) Lists(schema.Table, string) (policy.Lists, error) { *c.n++; return 0, nil }

func (c countingLookup) AliasTarget(string) (string, policy.Lists, error) { *c.n++; return "", 0, nil }

func TestFilterAboveMemoryCapIsNotUsed(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockExact("ads.example.com")...)
	k, s := startFilter(t, path, 1024) // below the smallest filter
	time.Sleep(50 * time.Millisecond)
	if k.Ready(s) {
		t.Fatal("a filter above bloom_max_memory is in use")
	}
	wantAction(t, k, s, "ads.example.com", policy.ActionBlock)
}
