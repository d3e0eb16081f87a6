package sqlitefilter

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// newFilter returns a filter on path that is not started: tests drive its
// watcher by calling check, so nothing depends on timing.
func newFilter(path string) *SQLiteFilter {
	cfg := DefaultConfig()
	cfg.Path, cfg.Pool = path, 2
	return New(cfg)
}

// waitReady waits until f is ready: its files open with their rules, and
// its key filter's first build ended.
func waitReady(t *testing.T, f *SQLiteFilter) {
	t.Helper()
	testkit.Eventually(t, "the filter to be ready", 10*time.Second, f.Ready)
}

func verdict(t *testing.T, f *SQLiteFilter, name string) policy.Action {
	t.Helper()
	v, err := f.decide(name, nil, new(decideStats))
	if err != nil {
		t.Fatalf("decide %s: %v", name, err)
	}
	return v.Action
}

// swapIn renames a new database over path the documented way: the old -wal
// and -shm removed first, then the rename.
func swapIn(t *testing.T, next, path string) {
	t.Helper()
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if err := os.Rename(next, path); err != nil {
		t.Fatal(err)
	}
}

// takeUp runs the watcher's check of d until the new file renamed over its
// path serves: a first check opens it and builds its key filter while the
// old file serves, a later one puts it in place.
func takeUp(t *testing.T, f *SQLiteFilter, d *dbFile) {
	t.Helper()
	old := d.store.Load()
	testkit.Eventually(t, "the new file to serve", 10*time.Second, func() bool {
		f.check(d)
		return d.store.Load() != old
	})
}

// storeHas reports whether table t of s holds key, probed as a decision
// probes it.
func storeHas(s *store.Store, t schema.Table, key string) (bool, error) {
	var ok bool
	err := store.View(store.Shards{s}, func(l policy.Lookup) error {
		var err error
		ok, err = policy.Has(l, t, key)
		return err
	})
	return ok, err
}

// lookupErr is the error of a lookup in s: store.ErrClosed once s is closed.
func lookupErr(s *store.Store) error {
	_, err := storeHas(s, schema.BlockExact, "probe.example")
	return err
}

func TestSwapMovesLookupsToTheNewFile(t *testing.T) {
	for _, mode := range []string{"delete", "wal"} {
		t.Run("new file in "+mode+" mode", func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "rules.db")
			testkit.CreateDB(t, path, schema.PerType, "wal", exact("old.example")...)
			f := newFilter(path)
			f.open(f.files[0])
			defer f.Stop()
			// A writer leaves committed rows in the old file's -wal, and the
			// filter's readers are attached to it during the swap.
			w := testkit.OpenRW(t, path)
			if _, err := w.Exec(`PRAGMA wal_autocheckpoint=0; INSERT INTO block_exact VALUES ('walonly.example')`); err != nil {
				t.Fatal(err)
			}
			f.check(f.files[0])
			if verdict(t, f, "walonly.example") != policy.ActionBlock {
				t.Fatal("row in the -wal not seen before the swap")
			}
			old := f.files.first()
			gen := old.Generation()

			next := filepath.Join(dir, "rules.db.new")
			testkit.CreateDB(t, next, schema.PerType, mode, exact("new.example")...)
			w.Close() // the documented procedure: no writer on the old file
			swapIn(t, next, path)
			// A writer of the new file commits before the server takes it up,
			// leaving the row in the new file's -wal: closing the old store
			// must not touch that -wal, which has the old one's name.
			w2 := testkit.OpenRW(t, path)
			defer w2.Close()
			if _, err := w2.Exec(`PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; INSERT INTO block_exact VALUES ('fresh.example')`); err != nil {
				t.Fatal(err)
			}
			takeUp(t, f, f.files[0])
			fresh, err := store.Open(path, store.Options{Pool: 1})
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := storeHas(fresh, schema.BlockExact, "fresh.example"); err != nil {
				t.Fatal(err)
			} else if !ok {
				t.Error("a row in the new file's -wal is lost after the old store closed")
			}
			fresh.Close()

			if f.files.first() == old {
				t.Fatal("the filter still uses the old file")
			}
			if got := f.files.first().Generation(); got <= gen {
				t.Errorf("generation %d after the swap, want more than %d", got, gen)
			}
			want := map[string]policy.Action{"new.example": policy.ActionBlock, "fresh.example": policy.ActionBlock, "old.example": policy.ActionPass, "walonly.example": policy.ActionPass}
			for name, action := range want {
				if got := verdict(t, f, name); got != action {
					t.Errorf("%s: %s after the swap, want %s", name, got, action)
				}
			}
			// Closed in the background (retire), and at once here: no
			// query holds it.
			f.retiring.Wait()
			if err := lookupErr(old); err != store.ErrClosed {
				t.Errorf("old store not closed: %v", err)
			}
		})
	}
}

func TestSwapWithTheOldWALStillInPlaceIsRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.db")
	testkit.CreateDB(t, path, schema.PerType, "wal", exact("old.example")...)
	f := newFilter(path)
	f.open(f.files[0])
	defer f.Stop()
	w := testkit.OpenRW(t, path)
	defer w.Close()
	if _, err := w.Exec(`PRAGMA wal_autocheckpoint=0; INSERT INTO block_exact VALUES ('walonly.example')`); err != nil {
		t.Fatal(err)
	}
	f.check(f.files[0])
	old := f.files.first()
	next := filepath.Join(dir, "rules.db.new")
	testkit.CreateDB(t, next, schema.PerType, "delete", exact("new.example")...)
	if err := os.Rename(next, path); err != nil { // -wal and -shm left in place
		t.Fatal(err)
	}
	errs := testutil.ToFloat64(watchErrorCount.WithLabelValues(path))
	f.check(f.files[0])
	if f.files.first() != old {
		t.Fatal("opened a new file paired with the old file's -wal")
	}
	if got := testutil.ToFloat64(watchErrorCount.WithLabelValues(path)); got != errs+1 {
		t.Errorf("database_errors_total %v, want %v", got, errs+1)
	}
	if verdict(t, f, "walonly.example") != policy.ActionBlock {
		t.Error("old data not served while the swap is refused")
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	takeUp(t, f, f.files[0])
	if verdict(t, f, "new.example") != policy.ActionBlock || verdict(t, f, "walonly.example") != policy.ActionPass {
		t.Error("new file not taken up once the old -wal and -shm are gone")
	}
}

func TestDeletedFileKeepsTheLastData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.db")
	testkit.CreateDB(t, path, schema.PerType, "wal", exact("ads.example")...)
	f := newFilter(path)
	f.open(f.files[0])
	defer f.Stop()
	// Ready the first time once the key filter is built, and from then on
	// through whatever happens to the file.
	waitReady(t, f)
	errs := testutil.ToFloat64(watchErrorCount.WithLabelValues(path))
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	f.check(f.files[0])
	if got := testutil.ToFloat64(watchErrorCount.WithLabelValues(path)); got != errs+1 {
		t.Errorf("database_errors_total %v, want %v", got, errs+1)
	}
	if !f.Ready() || verdict(t, f, "ads.example") != policy.ActionBlock {
		t.Fatal("deleted file: last data not served")
	}
	testkit.CreateDB(t, path, schema.PerType, "wal", exact("back.example")...)
	takeUp(t, f, f.files[0])
	if verdict(t, f, "back.example") != policy.ActionBlock || verdict(t, f, "ads.example") != policy.ActionPass {
		t.Fatal("new file not taken up after the old one was deleted")
	}
}

func TestMissingDatabaseIsNotReadyUntilItAppears(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.db")
	f := newFilter(path)
	if f.open(f.files[0]) == nil {
		t.Fatal("opened a missing file")
	}
	defer f.Stop()
	if f.Ready() {
		t.Fatal("ready without a database")
	}
	if _, err := f.decide("ads.example", nil, new(decideStats)); err != store.ErrNotOpen {
		t.Fatalf("decide without a database: %v, want store.ErrNotOpen", err)
	}
	testkit.CreateDB(t, path, schema.PerType, "wal", exact("ads.example")...)
	f.check(f.files[0])
	waitReady(t, f)
	if verdict(t, f, "ads.example") != policy.ActionBlock {
		t.Fatal("database not taken up once it appeared")
	}
}

func TestOnErrorWithoutDatabase(t *testing.T) {
	tests := []struct {
		onError   OnError
		wantRcode int
		wantNext  bool
	}{
		{FailClosed, dns.RcodeServerFailure, false},
		{FailOpen, dns.RcodeSuccess, true},
	}
	for _, tc := range tests {
		t.Run(tc.onError.String(), func(t *testing.T) {
			f := newFilter(filepath.Join(t.TempDir(), "missing.db"))
			f.cfg.OnError = tc.onError
			next := false
			f.Next = test.HandlerFunc(func(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
				next = true
				w.WriteMsg(new(dns.Msg).SetReply(r))
				return dns.RcodeSuccess, nil
			})
			rec := dnstest.NewRecorder(&test.ResponseWriter{})
			rcode, err := f.ServeDNS(context.Background(), rec, new(dns.Msg).SetQuestion("ads.example.", dns.TypeA))
			if err != nil || rcode != tc.wantRcode || next != tc.wantNext {
				t.Fatalf("ServeDNS = %s, %v, next called %v; want %s, nil, %v", dns.RcodeToString[rcode], err, next, dns.RcodeToString[tc.wantRcode], tc.wantNext)
			}
		})
	}
}

// TestSwapsFailNoConcurrentLookup swaps files under lookups running without
// pause and checks that none fails and each sees one file or the other.
func TestSwapsFailNoConcurrentLookup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.db")
	testkit.CreateDB(t, path, schema.PerType, "delete", exact("always.example")...)
	f := newFilter(path)
	f.open(f.files[0])
	defer f.Stop()
	var stop atomic.Bool
	var failures atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				v, err := f.decide("always.example", nil, new(decideStats))
				if err != nil || v.Action != policy.ActionBlock {
					failures.Add(1)
				}
			}
		}()
	}
	for i := range 10 {
		next := filepath.Join(dir, "next.db")
		mode := []string{"delete", "wal"}[i%2]
		testkit.CreateDB(t, next, schema.PerType, mode, exact("always.example")...)
		swapIn(t, next, path)
		f.check(f.files[0])
	}
	stop.Store(true)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d lookups failed or were wrong during swaps", n)
	}
}

func TestTableRowsFromAnalyzeOrCappedCount(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.db")
	testkit.CreateDB(t, path, schema.PerType, "wal", rowsOf(exact("a.example", "b.example", "c.example"), wildcard("w.example"))...)
	s, err := store.Open(path, store.Options{Pool: 1})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.TableRows()
	s.Close()
	if err != nil || rows[schema.BlockExact] != 3 || rows[schema.BlockWildcard] != 1 || rows[schema.Allow] != 0 {
		t.Fatalf("counted rows %v, %v; want block_exact 3, block_wildcard 1, fqdn_dns_allow 0", rows, err)
	}
	// After ANALYZE the statistics are used, even when they are stale: the
	// two rows added after it are not counted.
	testkit.ExecSQL(t, path, "ANALYZE")
	testkit.InsertRows(t, path, exact("d.example", "e.example")...)
	s, err = store.Open(path, store.Options{Pool: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rows, err = s.TableRows(); err != nil || rows[schema.BlockExact] != 3 {
		t.Fatalf("rows %v, %v; want block_exact 3 from sqlite_stat1", rows, err)
	}
}

// Stop ends the watcher whether or not the database ever opened, and
// closes what it opened: nothing outlives a Corefile reload.
func TestStopEndsTheWatcherAndClosesTheStore(t *testing.T) {
	dir := t.TempDir()
	present := filepath.Join(dir, "rules.db")
	testkit.CreateDB(t, present, schema.PerType, "wal")
	for _, path := range []string{present, filepath.Join(dir, "missing.db")} {
		f := newFilter(path)
		f.cfg.Refresh = 10 * time.Millisecond
		if err := f.Start(); err != nil {
			t.Fatalf("Start(%s): %v", path, err)
		}
		s := f.files.first()
		time.Sleep(50 * time.Millisecond) // a few watcher rounds
		if n := filterGoroutines(); n != 2 {
			t.Errorf("%s: %d goroutines of the filter run, want the watcher and the loader", path, n)
		}
		if err := f.Stop(); err != nil {
			t.Fatal(err)
		}
		if f.Ready() {
			t.Errorf("%s: ready after Stop", path)
		}
		if s != nil {
			if err := lookupErr(s); err != store.ErrClosed {
				t.Errorf("%s: store not closed by Stop: %v", path, err)
			}
		}
		// A goroutine that signalled it is done may still be returning:
		// give it a moment, but no more.
		n := filterGoroutines()
		for deadline := time.Now().Add(time.Second); n != 0 && time.Now().Before(deadline); n = filterGoroutines() {
			time.Sleep(10 * time.Millisecond)
		}
		if n != 0 {
			t.Errorf("%s: %d goroutines of the filter still run after Stop", path, n)
		}
	}
}

// filterGoroutines counts the goroutines running a method of SQLiteFilter
// (the watcher, the rules loader). Other tests' goroutines are left out.
func filterGoroutines() int {
	buf := make([]byte, 1<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "sqlitefilter.(*SQLiteFilter).watch") || strings.Contains(g, "sqlitefilter.(*SQLiteFilter).load") {
			n++
		}
	}
	return n
}

// TestSwapMovesRegexRulesWithTheData: the old file's regex set never applies
// to the new file's data, and the new file's applies from the first query on
// it.
func TestSwapMovesRegexRulesWithTheData(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.db")
	testkit.CreateDB(t, path, schema.PerType, "wal", regexRows(`^old\.`)...)
	f := newFilter(path)
	if err := f.open(f.files[0]); err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	r, err := f.loadRules(f.files.first(), nil) // what the loader does
	if err != nil {
		t.Fatal(err)
	}
	f.rules.Store(r)
	decide := func(name string) policy.Action {
		t.Helper()
		v, err := f.decide(name, f.currentRules(), new(decideStats))
		if err != nil {
			t.Fatal(err)
		}
		return v.Action
	}
	if decide("old.example") != policy.ActionBlock {
		t.Fatal("the old file's regex does not apply before the swap")
	}
	next := filepath.Join(dir, "next.db")
	testkit.CreateDB(t, next, schema.PerType, "delete", regexRows(`^new\.`)...)
	swapIn(t, next, path)
	takeUp(t, f, f.files[0])
	if got := decide("old.example"); got != policy.ActionPass {
		t.Errorf("old.example: %s after the swap, want pass (the old file's regex)", got)
	}
	if got := decide("new.example"); got != policy.ActionBlock {
		t.Errorf("new.example: %s after the swap, want block by the new file's regex", got)
	}
}

// TestRowGaugesFollowTheFile: after a swap the row gauges describe the new
// file only; a table it lacks has no figure left from the old one.
func TestRowGaugesFollowTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.db")
	testkit.CreateDB(t, path, schema.PerType, "wal", regexRows(`^a\.`, `^b\.`)...)
	f := newFilter(path)
	if err := f.open(f.files[0]); err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	f.measure(f.files[0], f.files.first())
	if got := testutil.ToFloat64(tableRows.WithLabelValues(path, "block_regex")); got != 2 {
		t.Fatalf("block_regex rows %v, want 2", got)
	}
	next := filepath.Join(dir, "next.db")
	testkit.CreateDB(t, next, schema.PerType, "delete", exact("x.example")...)
	testkit.ExecSQL(t, next, "DROP TABLE block_regex")
	swapIn(t, next, path)
	takeUp(t, f, f.files[0])
	f.measure(f.files[0], f.files.first())
	if tableRows.DeleteLabelValues(path, "block_regex") {
		t.Error("the old file's block_regex figure is still exported")
	}
	if got := testutil.ToFloat64(tableRows.WithLabelValues(path, "block_exact")); got != 1 {
		t.Errorf("block_exact rows %v, want 1", got)
	}
}

// TestRowsAreCountedBeforeTheFileServes: the row gauges, which may count up
// to a million rows a table, are set when a file is opened, before it
// serves, so that the counting takes nothing from its first queries.
func TestRowsAreCountedBeforeTheFileServes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.db")
	testkit.CreateDB(t, path, schema.PerType, "wal", exact("a.example", "b.example", "c.example")...)
	f := newFilter(path)
	if err := f.open(f.files[0]); err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	if got := testutil.ToFloat64(tableRows.WithLabelValues(path, "block_exact")); got != 3 {
		t.Errorf("block_exact rows %v once the file serves, want 3", got)
	}
}
