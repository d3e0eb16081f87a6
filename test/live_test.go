package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/schema"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
)

// withPlugins adds Corefile lines (other plugins) to a corefile() server block.
func withPlugins(conf string, lines ...string) string {
	add := ""
	for _, l := range lines {
		add += "    " + l + "\n"
	}
	return strings.Replace(conf, "    bind 127.0.0.1\n", "    bind 127.0.0.1\n"+add, 1)
}

// load queries the server without pause from a few goroutines, for names
// whose verdict no phase of a test changes, and counts failed and wrong
// answers.
type load struct {
	stop                 chan struct{}
	wg                   sync.WaitGroup
	sent, failed, wrong  atomic.Int64
	mu                   sync.Mutex
	firstProblems        []string
	blockedName, allowed string
}

func startLoad(t *testing.T, addr, blockedName, allowed string) *load {
	l := &load{stop: make(chan struct{}), blockedName: blockedName, allowed: allowed}
	for w := range 3 {
		l.wg.Add(1)
		go l.run(addr, w)
	}
	t.Cleanup(l.Stop)
	return l
}

func (l *load) run(addr string, worker int) {
	defer l.wg.Done()
	c := &dns.Client{Timeout: 2 * time.Second}
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		name, want := l.allowed, upstreamA
		if (i+worker)%2 == 0 {
			name, want = l.blockedName, "0.0.0.0"
		}
		l.sent.Add(1)
		r, _, err := c.Exchange(new(dns.Msg).SetQuestion(name, dns.TypeA), addr)
		switch {
		case err != nil || r.Rcode != dns.RcodeSuccess:
			l.failed.Add(1)
			l.problem(fmt.Sprintf("%s: %v %v", name, err, r))
		case len(r.Answer) != 1 || !strings.HasSuffix(r.Answer[0].String(), "\t"+want):
			l.wrong.Add(1)
			l.problem(fmt.Sprintf("%s: answer %v, want %s", name, r.Answer, want))
		}
		time.Sleep(2 * time.Millisecond) // bounded: a few hundred queries a second
	}
}

func (l *load) problem(p string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.firstProblems) < 5 {
		l.firstProblems = append(l.firstProblems, p)
	}
}

// Stop ends the load; it may be called more than once.
func (l *load) Stop() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// check fails the test if any answer so far failed or was wrong.
func (l *load) check(t *testing.T, phase string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Logf("%s: %d queries, %d failed, %d wrong", phase, l.sent.Load(), l.failed.Load(), l.wrong.Load())
	if l.failed.Load() != 0 || l.wrong.Load() != 0 {
		t.Errorf("%s: %d failed and %d wrong answers, first: %v", phase, l.failed.Load(), l.wrong.Load(), l.firstProblems)
	}
}

// isBlocked reports whether the server answers name with the block address.
func isBlocked(t *testing.T, addr, name string) bool {
	t.Helper()
	r := query(t, addr, "udp", name, dns.TypeA, false)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("%s: rcode %s, answer %v", name, dns.RcodeToString[r.Rcode], r.Answer)
	}
	return strings.HasSuffix(r.Answer[0].String(), "\t0.0.0.0")
}

// within waits until name's verdict is blocked (or not) and returns how long
// that took since from; it fails the test after max.
func within(t *testing.T, addr, name string, blocked bool, from time.Time, max time.Duration) time.Duration {
	t.Helper()
	verdictIsBlocked := func() bool {
		// A SERVFAIL (no database yet, on_error fail_closed) is "not yet".
		r := query(t, addr, "udp", name, dns.TypeA, false)
		got := r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1 && strings.HasSuffix(r.Answer[0].String(), "\t0.0.0.0")
		return r.Rcode == dns.RcodeSuccess && got == blocked
	}
	if !testkit.Poll(time.Until(from.Add(5*time.Second)), verdictIsBlocked) {
		t.Fatalf("%s: not blocked=%v after 5s", name, blocked)
	}
	d := time.Since(from)
	if d > max {
		t.Errorf("%s: blocked=%v after %s, want within %s", name, blocked, d.Round(time.Millisecond), max)
	}
	return d
}

// cliExec runs statements with the sqlite3 command-line shell, the writer
// operators use by hand; without it, with the Go driver.
func cliExec(t *testing.T, db, statements string) {
	t.Helper()
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Logf("no sqlite3 shell (apt-get install sqlite3): writing with the Go driver")
		testkit.ExecSQL(t, db, statements)
		return
	}
	out, err := exec.Command("sqlite3", "-cmd", ".timeout 5000", db, statements).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %s: %v\n%s", statements, err, out)
	}
}

// metric returns the value of the first sample of the metric whose line
// starts with prefix, or -1 if there is none.
func metric(t *testing.T, addr, prefix string) float64 {
	t.Helper()
	for _, line := range strings.Split(scrape(t, addr), "\n") {
		if strings.HasPrefix(line, prefix) {
			var v float64
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
			return v
		}
	}
	return -1
}

// metricUntil reads the metric until ok accepts its value, for at most a
// second, and returns the last value.
func metricUntil(t *testing.T, addr, prefix string, ok func(float64) bool) float64 {
	t.Helper()
	var v float64
	testkit.Poll(time.Second, func() bool { v = metric(t, addr, prefix); return ok(v) })
	return v
}

// replaceFile is the documented swap: the old file's -wal and -shm removed,
// then the finished new file renamed over the old one.
func replaceFile(t *testing.T, next, db string) {
	t.Helper()
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(db + suffix); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if err := os.Rename(next, db); err != nil {
		t.Fatal(err)
	}
}

// TestLiveDataUnderLoad edits, replaces, deletes and holds a write lock on
// the database of a running server under a steady load, and checks that
// every change is enforced within the refresh interval, that no answer fails
// or is wrong, and that descriptors and goroutines return to their level.
func TestLiveDataUnderLoad(t *testing.T) {
	for _, mode := range []string{"wal", "delete"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			testLiveData(t, mode)
		})
	}
}

func testLiveData(t *testing.T, journalMode string) {
	const refresh = time.Second
	// The bound on taking up a change: one refresh interval, plus the time a
	// loaded 2-core machine under -race needs to notice and answer.
	const max = refresh + 500*time.Millisecond
	control := testkit.BlockExact("always.example")
	up := testkit.StartUpstream(t, upstreamRecipe)
	dir := t.TempDir()
	dir, _ = filepath.EvalSymlinks(dir)
	db := filepath.Join(dir, "rules.db")
	testkit.CreateDB(t, db, schema.PerType, journalMode, control...)
	pprofAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	srv := startServer(t, withPlugins(corefile(db, up.Addr, "pool 4"), "pprof "+pprofAddr, "prometheus "+metricsAddr))
	// The level is taken without load, so that no query is in flight in
	// sqlitefilter code when the goroutines are counted.
	time.Sleep(1500 * time.Millisecond)
	files, routines := testkit.FilesUnder(t, srv.PID(), db), goroutines(t, pprofAddr)
	t.Logf("level: %d descriptors on the database, %d sqlitefilter goroutines", files, routines)
	ld := startLoad(t, srv.Addr, "always.example.", "never.example.")

	// Insert with the sqlite3 shell: enforced within the refresh interval.
	cliExec(t, db, `INSERT INTO block_exact VALUES ('ads.example')`)
	t.Logf("insert (sqlite3 shell) enforced after %s", within(t, srv.Addr, "ads.example.", true, time.Now(), max))
	// Delete with the Go driver: lifted as fast.
	testkit.ExecSQL(t, db, `DELETE FROM block_exact WHERE Domain = 'ads.example'`)
	t.Logf("delete (Go driver) lifted after %s", within(t, srv.Addr, "ads.example.", false, time.Now(), max))
	// In rollback-journal mode a lookup reads the file itself and sees a
	// commit at once; the watcher counts it at its next tick, both commits
	// at once if they fell between two ticks.
	if got := metricUntil(t, metricsAddr, "coredns_sqlitefilter_reloads_total", func(v float64) bool { return v >= 1 }); got < 1 {
		t.Errorf("reloads_total %v, want at least 1", got)
	}
	ld.check(t, "edits")

	// A write transaction held open for 10 s: its row stays invisible, no
	// query fails or waits, and the commit is enforced like any other.
	w := testkit.OpenRW(t, db)
	tx, err := w.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO block_exact VALUES ('pending.example')`); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		if isBlocked(t, srv.Addr, "pending.example.") {
			t.Fatal("uncommitted row enforced")
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	t.Logf("commit after a 10 s transaction enforced after %s", within(t, srv.Addr, "pending.example.", true, time.Now(), max))
	if journalMode == "wal" {
		var busy, logged, moved int
		if err := w.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logged, &moved); err != nil {
			t.Fatal(err)
		}
		t.Logf("checkpoint: busy %d, %d frames in the log, %d checkpointed", busy, logged, moved)
	}
	w.Close()
	ld.check(t, "held write transaction")

	// A new file renamed into place by schema.Replace, as the admin
	// command's --replace does: its data only, at once.
	next := filepath.Join(dir, "rules.db.next")
	testkit.CreateDB(t, next, schema.PerType, "delete", testkit.Rows(control, testkit.BlockExact("swapped.example"))...)
	swaps := metric(t, metricsAddr, "coredns_sqlitefilter_swaps_total")
	if err := schema.Replace(next, db); err != nil {
		t.Fatal(err)
	}
	t.Logf("swap taken up after %s", within(t, srv.Addr, "swapped.example.", true, time.Now(), max))
	if isBlocked(t, srv.Addr, "pending.example.") {
		t.Error("a row of the old file is still enforced after the swap")
	}
	if got := metricUntil(t, metricsAddr, "coredns_sqlitefilter_swaps_total", func(v float64) bool { return v == swaps+1 }); got != swaps+1 {
		t.Errorf("swaps_total %v, want %v", got, swaps+1)
	}
	ld.check(t, "swap")

	// The file deleted: the last data keeps being served, the error is
	// logged and counted.
	errs := metric(t, metricsAddr, "coredns_sqlitefilter_database_errors_total")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(db + suffix)
	}
	time.Sleep(2 * refresh)
	if !isBlocked(t, srv.Addr, "swapped.example.") {
		t.Error("the last data is not served after the file was deleted")
	}
	if got := metric(t, metricsAddr, "coredns_sqlitefilter_database_errors_total"); got <= errs {
		t.Errorf("database_errors_total %v after the file was deleted, want more than %v", got, errs)
	}
	if !strings.Contains(srv.Output(), "no such file or directory; answering from the data read last") {
		t.Errorf("no log line about the deleted file:\n%s", srv.Output())
	}
	ld.check(t, "deleted file")

	// A file back in the journal mode of the first: taken up, and the
	// descriptors and goroutines are back to their level.
	testkit.CreateDB(t, next, schema.PerType, journalMode, testkit.Rows(control, testkit.BlockExact("back.example"))...)
	replaceFile(t, next, db)
	t.Logf("new file after the deletion taken up after %s", within(t, srv.Addr, "back.example.", true, time.Now(), max))
	rows := fmt.Sprintf("coredns_sqlitefilter_table_rows{database=%q,table=\"block_exact\"}", db)
	if got := metricUntil(t, metricsAddr, rows, func(v float64) bool { return v == 2 }); got != 2 {
		t.Errorf("%s = %v, want 2 (the rows of the new file)", rows, got)
	}
	if got := metric(t, metricsAddr, "coredns_sqlitefilter_lookup_duration_seconds_count"); got < 1000 {
		t.Errorf("lookup_duration_seconds_count %v, want one per query of the load", got)
	}
	time.Sleep(1500 * time.Millisecond)
	ld.Stop()
	ld.check(t, "end")
	if got := testkit.FilesUnder(t, srv.PID(), db); got != files {
		t.Errorf("%d descriptors on the database at the end, want %d as at the start", got, files)
	}
	if got := goroutines(t, pprofAddr); got != routines {
		t.Errorf("%d sqlitefilter goroutines at the end, want %d as at the start", got, routines)
	}
}

// TestMetadataForTheLogPlugin logs every query with the action and the rule
// that decided it, through the metadata and log plugins.
func TestMetadataForTheLogPlugin(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	db := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockWildcard("doubleclick.net")...)
	srv := startServer(t, withPlugins(corefile(db, up.Addr), "metadata", `log . "{name} action={/sqlitefilter/action} rule={/sqlitefilter/rule}"`))
	query(t, srv.Addr, "udp", "ad.doubleclick.net.", dns.TypeA, false)
	query(t, srv.Addr, "udp", "www.example.org.", dns.TypeA, false)
	want := []string{
		"ad.doubleclick.net. action=block rule=block_wildcard doubleclick.net",
		"www.example.org. action=pass rule=-",
	}
	deadline := time.Now().Add(3 * time.Second)
	for _, line := range want {
		if !testkit.Poll(time.Until(deadline), func() bool { return strings.Contains(srv.Output(), line) }) {
			t.Fatalf("log has no line %q:\n%s", line, srv.Output())
		}
	}
}
