package sqlitefilter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// startFilter starts a handler on path with the Bloom filter on and starts
// the filter's build. The refresh ticker is long: the test drives Refresh
// itself.
func startFilter(t *testing.T, path string, maxBytes int64) *SQLiteFilter {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Path, cfg.Pool, cfg.Refresh, cfg.CacheSize, cfg.BloomMaxBytes = path, 2, time.Hour, 1000, maxBytes
	f := New(cfg)
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Stop() })
	f.filters[0].Sync(f.files.first()) // the first tick would start the build
	return f
}

// waitFilterReady waits until the handler's Bloom filter is in use.
func waitFilterReady(t *testing.T, f *SQLiteFilter) {
	t.Helper()
	testkit.Eventually(t, "the Bloom filter to be ready", 10*time.Second, func() bool { return f.filters[0].Ready(f.files.first()) })
}

// TestSwappedFileServesWithItsKeyFilter: a file renamed over the one in use
// is put in place only once its key filter is built, the old file serving
// with its own filter meanwhile, so that the new file is as fast from its
// first query as the old one was at its last. Its generation starts past
// the old store's last, which may have moved while the new one was
// prepared, and its filter stays in use across that renumbering.
func TestSwappedFileServesWithItsKeyFilter(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.db")
	testkit.CreateDB(t, path, schema.PerType, "wal", exact("old.example")...)
	f := newFilter(path)
	if err := f.open(f.files[0]); err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	waitFilterReady(t, f)
	old, d := f.files.first(), f.files[0]

	next := filepath.Join(dir, "rules.db.new")
	testkit.CreateDB(t, next, schema.PerType, "delete", exact("new.example")...)
	// Enough keys that the build takes a while.
	testkit.ExecSQL(t, next, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
		INSERT INTO block_exact (Domain) SELECT 'host' || i || '.example' FROM n`)
	swapIn(t, next, path)
	f.check(d)
	if d.store.Load() == old && !f.filters[0].Ready(old) {
		t.Fatal("the old file lost its key filter while the new one is prepared")
	}
	// Changes noticed in the old file while the new one is prepared.
	old.Renumber(old.Generation() + 5)
	for d.store.Load() == old {
		if verdict(t, f, "old.example") != policy.ActionBlock {
			t.Fatal("the old file's rows do not apply while the new one is prepared")
		}
		time.Sleep(time.Millisecond)
		f.check(d)
	}
	s := f.files.first()
	if !f.filters[0].Ready(s) {
		t.Error("the new file serves without its key filter")
	}
	if s.Generation() <= old.Generation() {
		t.Errorf("new file at generation %d, not past the old one's %d", s.Generation(), old.Generation())
	}
	for name, want := range map[string]policy.Action{"new.example": policy.ActionBlock, "old.example": policy.ActionPass} {
		if got := verdict(t, f, name); got != want {
			t.Errorf("%s: %s after the swap, want %s", name, got, want)
		}
	}
}
