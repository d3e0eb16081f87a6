package sqlitefilter

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// newTestDB creates a per-type database and returns its path and a writer.
func newTestDB(t testing.TB, journalMode string) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.db")
	if err := schema.Create(path); err != nil {
		t.Fatal(err)
	}
	w, err := sql.Open("sqlite3", "file:"+path+"?mode=rw&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	w.SetMaxOpenConns(1)
	t.Cleanup(func() { w.Close() })
	if _, err := w.Exec("PRAGMA journal_mode=" + journalMode); err != nil {
		t.Fatal(err)
	}
	return path, w
}

func has(t *testing.T, s *Store, table schema.Table, key string) bool {
	t.Helper()
	var ok bool
	if err := s.View(func(src Lookup) error {
		var err error
		ok, err = src.Has(table, key)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestStoreSeesCommittedChangesAfterRefresh(t *testing.T) {
	for _, mode := range []string{"wal", "delete"} {
		t.Run(mode, func(t *testing.T) {
			path, w := newTestDB(t, mode)
			s, err := OpenStore(path, StoreOptions{Pool: 2, BusyTimeoutMS: 1000})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if has(t, s, schema.BlockExact, "ads.example.com") {
				t.Fatal("empty table has a row")
			}
			gen := s.Generation()
			if _, err := w.Exec(`INSERT INTO block_exact VALUES ('ads.example.com')`); err != nil {
				t.Fatal(err)
			}
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
	path, w := newTestDB(t, "wal")
	if _, err := w.Exec(`DROP TABLE block_regex; DROP TABLE domain_alias`); err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(path, StoreOptions{Pool: 1})
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
	path, _ := newTestDB(t, "wal")
	s, err := OpenStore(path, StoreOptions{Pool: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.View(func(Lookup) error { return nil }); err != errClosed {
		t.Fatalf("View after Close = %v, want errClosed", err)
	}
	if _, err := s.Refresh(); err != errClosed {
		t.Fatalf("Refresh after Close = %v, want errClosed", err)
	}
}

func TestOpenStoreRejectsWhatIsNotADatabase(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.db")
	if _, err := OpenStore(missing, StoreOptions{Pool: 1}); err == nil {
		t.Fatal("opened a missing file")
	}
}

// A file swapped in by --replace is in rollback-journal mode; when the
// operator turns it to WAL, the store follows without a reopen, and lookups
// keep seeing every committed change.
func TestStoreFollowsASwitchToWAL(t *testing.T) {
	path, w := newTestDB(t, "delete")
	s, err := OpenStore(path, StoreOptions{Pool: 2, BusyTimeoutMS: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.wal.Load() {
		t.Fatal("a rollback-journal file opened as WAL")
	}
	has(t, s, schema.BlockExact, "x.example")
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
