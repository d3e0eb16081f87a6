package store

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

func has(t *testing.T, s *Store, table schema.Table, key string) bool {
	t.Helper()
	var ok bool
	if err := View(Shards{s}, func(src policy.Lookup) error {
		var err error
		ok, err = policy.Has(src, table, key)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestStoreSeesCommittedChangesAfterRefresh(t *testing.T) {
	for _, mode := range []string{"wal", "delete"} {
		t.Run(mode, func(t *testing.T) {
			path := testkit.NewDB(t, schema.PerType, mode)
			s, err := Open(path, Options{Pool: 2, BusyTimeoutMS: 1000})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if has(t, s, schema.BlockExact, "ads.example.com") {
				t.Fatal("empty table has a row")
			}
			gen := s.Generation()
			testkit.InsertRows(t, path, testkit.BlockExact("ads.example.com")...)
			changed, err := s.Refresh()
			if err != nil || !changed {
				t.Fatalf("Refresh() = %v, %v; want a change", changed, err)
			}
			if s.Generation() == gen {
				t.Error("generation did not move")
			}
			for range 3 { // every pooled connection, not just one
				if !has(t, s, schema.BlockExact, "ads.example.com") {
					t.Fatal("committed row not seen after Refresh")
				}
			}
			if changed, err := s.Refresh(); err != nil || changed {
				t.Fatalf("Refresh() without a write = %v, %v; want no change", changed, err)
			}
		})
	}
}

func TestStoreReportsMissingTables(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "wal")
	testkit.ExecSQL(t, path, `DROP TABLE block_regex; DROP TABLE domain_alias`)
	s, err := Open(path, Options{Pool: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := s.Missing()
	if len(got) != 2 || got[0] != schema.BlockRegex || got[1] != schema.Alias {
		t.Fatalf("Missing() = %v, want [block_regex domain_alias]", got)
	}
	if has(t, s, schema.BlockRegex, "x") {
		t.Fatal("a missing table has a row")
	}
}

func TestStoreAfterCloseFails(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "wal")
	s, err := Open(path, Options{Pool: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A lookup fails when it takes its connection, at the first probe.
	err = View(Shards{s}, func(l policy.Lookup) error {
		_, err := policy.Has(l, schema.BlockExact, "ads.example.com")
		return err
	})
	if err != ErrClosed {
		t.Fatalf("lookup after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Refresh(); err != ErrClosed {
		t.Fatalf("Refresh after Close = %v, want ErrClosed", err)
	}
}

func TestOpenStoreRejectsWhatIsNotADatabase(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.db")
	if _, err := Open(missing, Options{Pool: 1}); err == nil {
		t.Fatal("opened a missing file")
	}
}

// A file swapped in by --replace is in rollback-journal mode; when the
// operator turns it to WAL, the store follows without a reopen, and lookups
// keep seeing every committed change.
func TestStoreFollowsASwitchToWAL(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "delete")
	s, err := Open(path, Options{Pool: 2, BusyTimeoutMS: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.wal.Load() {
		t.Fatal("a rollback-journal file opened as WAL")
	}
	has(t, s, schema.BlockExact, "x.example")
	w := testkit.OpenRW(t, path)
	defer w.Close()
	if _, err := w.Exec("PRAGMA journal_mode=WAL"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Exec(`INSERT INTO block_exact VALUES ('ads.example.com')`); err != nil {
		t.Fatal(err)
	}
	if changed, err := s.Refresh(); err != nil || !changed {
		t.Fatalf("Refresh() = %v, %v; want a change", changed, err)
	}
	if !s.wal.Load() {
		t.Fatal("store did not notice the switch to WAL")
	}
	for range 3 {
		if !has(t, s, schema.BlockExact, "ads.example.com") {
			t.Fatal("row committed with the switch not seen")
		}
	}
	if _, err := w.Exec(`DELETE FROM block_exact`); err != nil {
		t.Fatal(err)
	}
	if changed, err := s.Refresh(); err != nil || !changed {
		t.Fatalf("Refresh() after a WAL commit = %v, %v; want a change", changed, err)
	}
	if has(t, s, schema.BlockExact, "ads.example.com") {
		t.Fatal("deleted row still seen in WAL mode")
	}
}

// TestScanReadsTheInMemoryRules: the in-memory tables of a normalized file
// read the same rows through the index of in-memory rules as without it
// (a file made before it existed, which the store reports).
func TestScanReadsTheInMemoryRules(t *testing.T) {
	rows := testkit.Rows(testkit.BlockRegex(`^ad[0-9]+\.`), testkit.RewriteV4("192.0.2.1", "198.51.100.1"),
		testkit.BlockIPv4("203.0.113.0/24"), testkit.BlockExact("ads.example.com"), testkit.Alias("a.test", "b.test"))
	for _, indexed := range []bool{true, false} {
		s := normalizedStore(t, indexed, rows)
		if s.Unindexed() == indexed {
			t.Errorf("indexed %v: Unindexed() = %v", indexed, s.Unindexed())
		}
		var got []string
		for _, tb := range []schema.Table{schema.BlockRegex, schema.RewriteV4, schema.BlockIPv4, schema.Alias, schema.BlockExact} {
			if _, err := s.Scan(tb, 10, func(key, target string, _ policy.Lists) { got = append(got, tb.Name()+" "+key+" "+target) }); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		want := []string{`block_regex ^ad[0-9]+\. `, "ip_rewrite_v4 192.0.2.1 198.51.100.1", "block_ip_v4 203.0.113.0/24 ", "domain_alias a.test b.test", "block_exact ads.example.com "}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("indexed %v: scanned\n%s\nwant\n%s", indexed, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestTableRowsOfANormalizedFile: every rule type's rows are counted from
// records, those of an empty type too, in both the indexed and the older
// file.
func TestTableRowsOfANormalizedFile(t *testing.T) {
	rows := testkit.Rows(testkit.BlockExact("a.test", "b.test", "c.test"), testkit.BlockRegex(`^x`, `^y`), testkit.Allow("ok.test"))
	for _, indexed := range []bool{true, false} {
		s := normalizedStore(t, indexed, rows)
		got, err := s.TableRows()
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := map[schema.Table]int64{}
		for _, tb := range schema.Tables {
			want[tb] = 0
		}
		want[schema.BlockExact], want[schema.BlockRegex], want[schema.Allow] = 3, 2, 1
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("indexed %v: %v, want %v", indexed, got, want)
		}
	}
}

// normalizedStore opens a new normalized file holding rows, with the index
// of the in-memory rules or, as a file made before it existed, without.
func normalizedStore(t *testing.T, indexed bool, rows []testkit.Row) *Store {
	t.Helper()
	path := testkit.NewDB(t, schema.Normalized, "wal", rows...)
	if !indexed {
		testkit.ExecSQL(t, path, "DROP INDEX "+schema.InMemoryIndex)
	}
	s, err := Open(path, Options{Pool: 1, BusyTimeoutMS: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
