package sqlitefilter

import (
	"testing"
	"time"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
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
