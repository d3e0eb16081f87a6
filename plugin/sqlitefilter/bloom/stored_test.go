package bloom

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mattn/go-sqlite3"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// save stores the key filter of path, as the admin command does.
func save(t *testing.T, path string) Saved {
	t.Helper()
	db := testkit.OpenRW(t, path)
	defer db.Close()
	saved, err := Save(context.Background(), db, path, 1<<30, testLogger{t})
	if err != nil {
		t.Fatal(err)
	}
	return saved
}

// blockedHosts are n rows of block_exact.
func blockedHosts(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d.example.com", prefix, i)
	}
	return out
}

func TestStoredFilterIsReadAndKeptCurrent(t *testing.T) {
	for _, layout := range []schema.Layout{schema.PerType, schema.Normalized} {
		for _, journal := range []string{"wal", "delete"} {
			t.Run(fmt.Sprintf("%v/%s", layout, journal), func(t *testing.T) {
				early := blockedHosts("early", 500)
				path := testkit.NewDB(t, layout, journal, testkit.BlockExact(early...)...)
				if saved := save(t, path); !saved.Rebuilt || saved.Keys < int64(len(early)) {
					t.Fatalf("Save = %+v, want a filter built from the %d keys", saved, len(early))
				}
				// Written after the filter was stored: the change log has it.
				testkit.InsertRows(t, path, testkit.BlockExact("late.example.com")...)
				k, s := startFilter(t, path, 1<<30)
				waitFilterReady(t, k, s)
				if !k.state.Load().stored {
					t.Fatal("the filter was built from the keys; the file stores a current one")
				}
				for _, name := range append(early, "late.example.com") {
					wantAction(t, k, s, name, policy.ActionBlock)
				}
				wantAction(t, k, s, "other.example.com", policy.ActionPass)
				// And commits after it was read, as for a built filter.
				testkit.InsertRows(t, path, testkit.BlockExact("later.example.com")...)
				refresh(t, k, s)
				wantAction(t, k, s, "later.example.com", policy.ActionBlock)
				if !k.Ready(s) {
					t.Fatal("the stored filter is not in use after the change log was read")
				}
			})
		}
	}
}

func TestStaleStoredFilterIsNotUsed(t *testing.T) {
	tests := []struct {
		name   string
		writer []string // after the filter was stored, before the server opens the file
		why    string   // in Inspect's reason
	}{
		{"schema changed", []string{`CREATE TABLE unrelated (x)`, `INSERT INTO block_exact VALUES ('late.example.com')`}, "schema changed"},
		{"change log trimmed past it", []string{`INSERT INTO block_exact VALUES ('late.example.com')`, `DELETE FROM sqlitefilter_changes`}, "no longer holds"},
		{"change log reset", []string{`DELETE FROM sqlite_sequence WHERE name = 'sqlitefilter_changes'`, `DELETE FROM sqlitefilter_changes`}, "reset"},
		{"bits missing", []string{`DELETE FROM sqlitefilter_keyfilter_bits`, `INSERT INTO block_exact VALUES ('late.example.com')`}, ""},
		{"bits cut short", []string{`UPDATE sqlitefilter_keyfilter_bits SET data = substr(data, 1, 1024)`, `INSERT INTO block_exact VALUES ('late.example.com')`}, ""},
		{"unknown format", []string{`UPDATE sqlitefilter_keyfilter SET format = 2`, `INSERT INTO block_exact VALUES ('late.example.com')`}, "format 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			early := blockedHosts("early", 100)
			path := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockExact(early...)...)
			save(t, path)
			testkit.ExecSQL(t, path, tc.writer...)
			if tc.why != "" {
				db := testkit.OpenRO(t, path)
				st, err := Inspect(context.Background(), db, schema.PerType)
				db.Close()
				if err != nil {
					t.Fatal(err)
				}
				if !st.Present || !strings.Contains(st.Stale, tc.why) {
					t.Fatalf("Inspect = %+v, want a stale filter because %q", st, tc.why)
				}
			}
			k, s := startFilter(t, path, 1<<30)
			waitFilterReady(t, k, s)
			if k.state.Load().stored {
				t.Fatal("a stale stored filter is in use")
			}
			for _, name := range early {
				wantAction(t, k, s, name, policy.ActionBlock)
			}
			if strings.Contains(strings.Join(tc.writer, ";"), "late.example.com") {
				wantAction(t, k, s, "late.example.com", policy.ActionBlock)
			}
		})
	}
}

func TestSaveReusesTheCurrentStoredFilter(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockExact(blockedHosts("early", 100)...)...)
	save(t, path)
	testkit.InsertRows(t, path, testkit.BlockExact("late.example.com")...)
	if saved := save(t, path); saved.Rebuilt || saved.Keys != 101 {
		t.Fatalf("Save = %+v, want the stored filter read and the logged key added (101 keys)", saved)
	}
	db := testkit.OpenRO(t, path)
	defer db.Close()
	st, err := Inspect(context.Background(), db, schema.PerType)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Present || st.Stale != "" || st.Behind != 0 || st.Keys != 101 {
		t.Fatalf("Inspect = %+v, want a current filter of 101 keys", st)
	}
	testkit.ExecSQL(t, path, `CREATE TABLE unrelated (x)`)
	if saved := save(t, path); !saved.Rebuilt {
		t.Fatalf("Save = %+v after a schema change, want it built from the keys", saved)
	}
}

func TestSaveNeedsTheChangeLog(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockExact("ads.example.com")...)
	testkit.ExecSQL(t, path, `DROP TABLE sqlitefilter_changes`)
	db := testkit.OpenRW(t, path)
	defer db.Close()
	if _, err := Save(context.Background(), db, path, 1<<30, testLogger{t}); err != ErrNoChangeLog {
		t.Fatalf("Save without a change log = %v, want %v", err, ErrNoChangeLog)
	}
}

func TestSaveStopsWhenCancelled(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockExact("ads.example.com")...)
	db := testkit.OpenRW(t, path)
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Save(ctx, db, path, 1<<30, testLogger{t}); err != context.Canceled {
		t.Fatalf("Save with a cancelled context = %v, want %v", err, context.Canceled)
	}
	st, err := Inspect(context.Background(), db, schema.PerType)
	if err != nil || st.Present {
		t.Fatalf("Inspect = %+v, %v; want no stored filter", st, err)
	}
}

// storeLarge stores a filter of about three parts holding keys (rows or
// not) in the file at path, as Save would, and returns it.
func storeLarge(t *testing.T, path string, keys []string) *filter {
	t.Helper()
	b := newFilter(3 * storedPart * 8 / bloomBitsPerKey)
	for _, key := range keys {
		b.add([]byte(key))
	}
	st := &filterState{b: b, logged: true}
	db := testkit.OpenRW(t, path)
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c := dc.(*sqlite3.SQLiteConn)
		if st.schema, err = store.QueryInt(c, "PRAGMA schema_version"); err != nil {
			return err
		}
		if st.lastID, err = changeLogSeq(c); err != nil {
			return err
		}
		if err := writeStored(c, st); err != nil {
			return err
		}
		if parts, err := store.QueryInt(c, "SELECT count(*) FROM "+schema.KeyFilterBits); err != nil || parts < 3 {
			return fmt.Errorf("%d parts, %v; want at least 3", parts, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStoredBitsRoundTrip: a filter of several parts reads back word for
// word, with its seed: the keys added are found by the filter read.
func TestStoredBitsRoundTrip(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "wal")
	s, err := store.Open(path, store.Options{Pool: 1, BusyTimeoutMS: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys := blockedHosts("k", 5000)
	b := storeLarge(t, path, keys)
	k := New(1<<30, testLogger{t})
	defer k.Close()
	loaded, err := k.build(s, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.stored {
		t.Fatal("the stored filter was not read")
	}
	if loaded.b.seed != b.seed || !slices.Equal(loaded.b.words, b.words) || loaded.b.added.Load() != int64(len(keys)) {
		t.Fatal("the filter read back differs from the one stored")
	}
	for _, key := range keys {
		if !loaded.b.mayContain(key) {
			t.Fatalf("%s was stored but the filter read says absent", key)
		}
	}
}

// A filter stored anew while a server reads it part by part is not used
// half old, half new: the server builds its filter from the keys.
func TestStoredFilterRewrittenWhileReadIsNotUsed(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockExact("early.example.com")...)
	storeLarge(t, path, []string{"early.example.com"})
	s, err := store.Open(path, store.Options{Pool: 1, BusyTimeoutMS: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k := New(1<<30, testLogger{t})
	defer k.Close()
	parts := 0
	k.afterChunk = func(table string) {
		if table == schema.KeyFilterBits {
			if parts++; parts == 1 {
				testkit.ExecSQL(t, path, `INSERT INTO block_exact (Domain) VALUES ('late.example.com')`)
				save(t, path)
			}
		}
	}
	st, err := k.build(s, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.stored || parts != 2 { // the second part sees the new filter
		t.Fatalf("read %d parts and used it = %v; want the read stopped at the second and the filter built from the keys", parts, st.stored)
	}
	if !st.b.mayContain("late.example.com") || !st.b.mayContain("early.example.com") {
		t.Fatal("the filter built from the keys misses a key")
	}
}
