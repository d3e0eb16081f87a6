package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/bloom"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// storedFilter is what filter the file at path stores.
func storedFilter(t *testing.T, path string) bloom.StoredState {
	t.Helper()
	db, err := openReadOnly(path)
	must(t, "open", err)
	defer db.Close()
	st, err := bloom.Inspect(context.Background(), db.DB, db.layout)
	must(t, "inspect", err)
	return st
}

// wantCurrent fails unless path stores a filter a server would read, of at
// least keys keys.
func wantCurrent(t *testing.T, path string, keys int64) {
	t.Helper()
	if st := storedFilter(t, path); !st.Present || st.Stale != "" || st.Keys < keys {
		t.Fatalf("%s: stored filter %+v, want a current one of at least %d keys", filepath.Base(path), st, keys)
	}
}

func TestKeyFilterCommandStoresAndRemoves(t *testing.T) {
	for _, l := range []schema.Layout{schema.PerType, schema.Normalized} {
		t.Run(l.String(), func(t *testing.T) {
			db := testkit.NewDB(t, l, "wal", testkit.BlockExact("ads.example.com", "more.example.com")...)
			out, err := captured(t, func() error { return runKeyFilter([]string{db}) })
			must(t, "keyfilter", err)
			if !strings.Contains(out, "key filter stored: 2 keys") {
				t.Fatalf("keyfilter said %q", out)
			}
			wantCurrent(t, db, 2)
			out, err = captured(t, func() error { return runKeyFilter([]string{db}) })
			must(t, "keyfilter again", err)
			if !strings.Contains(out, "updated from the change log") {
				t.Fatalf("keyfilter on a current filter said %q, want it reused", out)
			}
			must(t, "keyfilter --remove", runKeyFilter([]string{db, "--remove"}))
			if st := storedFilter(t, db); st.Present {
				t.Fatalf("stored filter %+v after --remove", st)
			}
		})
	}
}

// hostList writes a list of n names.
func hostList(t *testing.T, prefix string, n int) string {
	t.Helper()
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("%s-%d.example.com", prefix, i)
	}
	return listFile(t, lines...)
}

// manyRows inserts n block_exact rows through SQL, as another tool would:
// the change log's triggers record them.
func manyRows(n int) string {
	return fmt.Sprintf(`WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d)
		INSERT INTO block_exact (Domain) SELECT 'sql-' || i || '.example.com' FROM c`, n)
}

// TestWritingCommandsKeepTheStoredFilterCurrent: after each command that
// writes to a file that stores a key filter, or makes a file from one, a
// server would read the filter. Without them the filter goes stale (the
// change log no longer holds what it lacks, or the schema changed) and
// the server scans every key.
func TestWritingCommandsKeepTheStoredFilterCurrent(t *testing.T) {
	big := schema.ChangeLogKeep + 20000
	tests := []struct {
		name string
		run  func(t *testing.T, db string) (check string) // the file to check
		keys int64
	}{
		{"import of more keys than the change log holds", func(t *testing.T, db string) string {
			must(t, "import", runImport([]string{db, "--table", "block_exact", hostList(t, "imported", big)}))
			return db
		}, int64(big)},
		{"sync of more keys than the change log holds", func(t *testing.T, db string) string {
			addURLList(t, db, "big", hostList(t, "synced", big), "plain")
			if r := runSyncJob(t, db, time.Minute); r.err != nil {
				t.Fatalf("sync: %v\n%s%s", r.err, r.stdout, r.stderr)
			}
			return db
		}, int64(big)},
		{"import --replace", func(t *testing.T, db string) string {
			must(t, "import", runImport([]string{db, "--table", "block_wildcard", "--replace", hostList(t, "replaced", 10)}))
			return db
		}, 10},
		{"add after another tool wrote half the change log", func(t *testing.T, db string) string {
			testkit.ExecSQL(t, db, manyRows(schema.ChangeLogKeep/2+1000))
			must(t, "add", runAdd([]string{db, "--table", "block_exact", "added.example.com"}))
			return db
		}, int64(schema.ChangeLogKeep/2 + 1000)},
		{"optimize (VACUUM changes the schema version)", func(t *testing.T, db string) string {
			must(t, "optimize", runOptimize([]string{db}))
			return db
		}, 2},
		{"upgrade", func(t *testing.T, db string) string {
			_, err := captured(t, func() error { return runUpgrade([]string{db}) })
			must(t, "upgrade", err)
			return db
		}, 2},
		{"migrate", func(t *testing.T, db string) string {
			dst := filepath.Join(t.TempDir(), "normalized.db")
			must(t, "migrate", runMigrate([]string{db, dst}))
			return dst
		}, 2},
		{"split", func(t *testing.T, db string) string {
			dir := t.TempDir()
			a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
			must(t, "split", runSplit([]string{db, a, b}))
			wantCurrent(t, a, 0)
			return b
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockExact("ads.example.com", "more.example.com")...)
			_, err := captured(t, func() error { return runKeyFilter([]string{db}) })
			must(t, "keyfilter", err)
			wantCurrent(t, tc.run(t, db), tc.keys)
		})
	}
}

func TestStatsSaysWhatKeyFilterIsStored(t *testing.T) {
	db := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockExact("ads.example.com")...)
	steps := []struct {
		sql  []string
		run  []string // keyfilter arguments, before the statements
		want string
	}{
		{want: "key filter:     none stored"},
		{run: []string{db}, want: "key filter:     stored, 1 keys, 0.1 MB, current (0 changes since"},
		{sql: []string{`INSERT INTO block_exact (Domain) VALUES ('late.example.com')`}, want: "current (1 changes since"},
		{sql: []string{`CREATE TABLE unrelated (x)`}, want: "stale: the schema changed since it was written"},
	}
	for _, s := range steps {
		if s.run != nil {
			_, err := captured(t, func() error { return runKeyFilter(s.run) })
			must(t, "keyfilter", err)
		}
		testkit.ExecSQL(t, db, s.sql...)
		out, err := captured(t, func() error { return runStats([]string{db}) })
		must(t, "stats", err)
		if !strings.Contains(out, s.want) {
			t.Fatalf("stats said %q, want %q", out, s.want)
		}
	}
}

// A file made by another tool has no change log: keyfilter adds it, and
// the filter stored then follows the rows written after it.
func TestKeyFilterAddsTheChangeLog(t *testing.T) {
	db := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockExact("ads.example.com")...)
	var drop []string
	for _, tb := range schema.LoggedTables {
		for _, trig := range schema.ChangeLogTriggers(tb.Name()) {
			drop = append(drop, "DROP TRIGGER "+trig)
		}
	}
	testkit.ExecSQL(t, db, append(drop, "DROP TABLE "+schema.ChangeLog)...)
	out, err := captured(t, func() error { return runKeyFilter([]string{db}) })
	must(t, "keyfilter", err)
	if !strings.Contains(out, "change log added") {
		t.Fatalf("keyfilter said %q, want it to say it added the change log", out)
	}
	testkit.ExecSQL(t, db, `INSERT INTO block_exact (Domain) VALUES ('late.example.com')`)
	if st := storedFilter(t, db); !st.Present || st.Stale != "" || st.Behind != 1 {
		t.Fatalf("stored filter %+v, want a current one with 1 logged change since", st)
	}
}
