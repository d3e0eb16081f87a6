package test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/schema"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
)

var (
	adminOnce sync.Once
	adminPath string
	adminErr  error
)

// adminBinary builds the admin command once for the run.
func adminBinary(t *testing.T) string {
	t.Helper()
	adminOnce.Do(func() {
		adminPath = filepath.Join(filepath.Dir(binaryPath), "sqlitefilter")
		out, err := exec.Command("go", "build", "-o", adminPath, "github.com/sqlitefilter/sqlitefilter/cmd/sqlitefilter").CombinedOutput()
		if err != nil {
			adminErr = fmt.Errorf("build the admin command: %v\n%s", err, out)
		}
	})
	if adminErr != nil {
		t.Fatal(adminErr)
	}
	return adminPath
}

// TestShardSetEndToEnd splits a database into 4 shards with the admin
// command and serves them with the real binary: verdicts whose rows sit in
// different shards, the in-memory rules of shard 0, and a live edit of one
// shard enforced within the refresh interval.
func TestShardSetEndToEnd(t *testing.T) {
	const n = 4
	const refresh = time.Second
	// One refresh interval, plus the time a loaded 2-core machine needs.
	const max = refresh + 500*time.Millisecond
	up := testkit.StartUpstream(t, upstreamRecipe)
	src := testkit.NewDB(t, schema.PerType, "wal", testkit.Rows(
		testkit.BlockWildcard("doubleclick.net"),
		testkit.Allow("good.doubleclick.net"),
		testkit.BlockExact("ads.example.com"),
		testkit.BlockRegex(`^track[0-9]+\.`),
		testkit.Alias("intel.com", "keweon.center"),
		testkit.RewriteV6("2001:db8::53", "2001:db8::99"),
	)...)
	// The verdicts below are worth something only if the rows they need
	// sit in other shards than the names asked about.
	for _, pair := range [][2]string{
		{"doubleclick.net", "good.doubleclick.net"}, // wildcard block vs allow below it
		{"doubleclick.net", "x.doubleclick.net"},    // the blocked suffix vs the name
		{"intel.com", "keweon.center"},              // alias source vs target
		{"intel.com", "www.intel.com"},
	} {
		if schema.ShardOf(pair[0], n) == schema.ShardOf(pair[1], n) {
			t.Fatalf("%s and %s share shard %d: pick other names", pair[0], pair[1], schema.ShardOf(pair[0], n))
		}
	}
	dir := t.TempDir()
	dir, _ = filepath.EvalSymlinks(dir)
	shards := make([]string, n)
	for i := range shards {
		shards[i] = filepath.Join(dir, fmt.Sprintf("shard-%02d.db", i))
	}
	if out, err := exec.Command(adminBinary(t), append([]string{"split", src}, shards...)...).CombinedOutput(); err != nil {
		t.Fatalf("split: %v\n%s", err, out)
	}
	// The shard edited below is put in WAL mode, as an operator editing a
	// shard live would: the server's connections then hold a snapshot, and
	// only the shard's own watcher makes them see the edit (pool 1: the
	// one connection of each shard is sure to hold a snapshot).
	edited := shards[schema.ShardOf("keweon.center", n)]
	testkit.ExecSQL(t, edited, "PRAGMA journal_mode=WAL")
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	readyAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	srv := startServer(t, withPlugins(corefile(filepath.Join(dir, "shard-*.db"), up.Addr, "shards 4", "pool 1", "refresh "+refresh.String()),
		"prometheus "+metricsAddr, "ready "+readyAddr))
	waitReady(t, readyAddr)

	tests := []struct {
		qname  string
		qtype  uint16
		answer []string // the answer records, TTL and class included
	}{
		{"x.doubleclick.net.", dns.TypeA, []string{"x.doubleclick.net.\t60\tIN\tA\t0.0.0.0"}},
		{"x.good.doubleclick.net.", dns.TypeA, []string{"x.good.doubleclick.net.\t300\tIN\tA\t" + upstreamA}},
		{"ads.example.com.", dns.TypeA, []string{"ads.example.com.\t60\tIN\tA\t0.0.0.0"}},
		{"www.example.com.", dns.TypeA, []string{"www.example.com.\t300\tIN\tA\t" + upstreamA}},
		{"track42.example.org.", dns.TypeA, []string{"track42.example.org.\t60\tIN\tA\t0.0.0.0"}},     // regex, shard 0
		{"www.example.org.", dns.TypeAAAA, []string{"www.example.org.\t300\tIN\tAAAA\t2001:db8::99"}}, // rewrite, shard 0
		{"www.intel.com.", dns.TypeA, []string{"www.intel.com.\t60\tIN\tCNAME\twww.keweon.center.", "www.keweon.center.\t300\tIN\tA\t" + upstreamA}},
	}
	check := func(phase string) {
		for _, tc := range tests {
			r := query(t, srv.Addr, "udp", tc.qname, tc.qtype, false)
			var got []string
			for _, rr := range r.Answer {
				got = append(got, rr.String())
			}
			if r.Rcode != dns.RcodeSuccess || strings.Join(got, "\n") != strings.Join(tc.answer, "\n") {
				t.Errorf("%s: %s %s: rcode %s, answer\n%s\nwant\n%s", phase, tc.qname, dns.TypeToString[tc.qtype],
					dns.RcodeToString[r.Rcode], strings.Join(got, "\n"), strings.Join(tc.answer, "\n"))
			}
		}
	}
	// The regex set and the rewrites are built in the background after the
	// start: wait for them before checking exact answers.
	within(t, srv.Addr, "track42.example.org.", true, time.Now(), 5*time.Second)
	check("after start")

	// A live edit of one shard, as an operator's writer makes it: the target
	// of the alias is blocked, which blocks www.intel.com,
	// whose alias row is in another shard.
	cliExec(t, edited, `INSERT INTO block_wildcard VALUES ('keweon.center')`)
	t.Logf("edit of %s enforced after %s", filepath.Base(edited), within(t, srv.Addr, "www.intel.com.", true, time.Now(), max))
	if got := metricUntil(t, metricsAddr, fmt.Sprintf(`coredns_sqlitefilter_reloads_total{database=%q}`, edited), func(v float64) bool { return v >= 1 }); got < 1 {
		t.Errorf("reloads_total of the edited shard %v, want at least 1", got)
	}
	for _, s := range shards {
		if s == edited {
			continue
		}
		if got := metric(t, metricsAddr, fmt.Sprintf(`coredns_sqlitefilter_reloads_total{database=%q}`, s)); got > 0 {
			t.Errorf("reloads_total of %s, which was not edited, is %v", filepath.Base(s), got)
		}
	}
	tests[len(tests)-1].answer = []string{"www.intel.com.\t60\tIN\tA\t0.0.0.0"}
	check("after the edit")
}

// waitReady waits until the ready plugin on addr answers 200.
func waitReady(t *testing.T, addr string) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	var err error
	ready := func() bool {
		var resp *http.Response
		if resp, err = c.Get("http://" + addr + "/ready"); err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if !testkit.Poll(10*time.Second, ready) {
		t.Fatalf("not ready after 10s (%v)", err)
	}
}

// TestShardSetArrivesAfterStart: with `shards N` the server starts before
// its shards exist, is not ready and answers SERVFAIL (fail_closed), and
// filters once the admin command's split has put every shard in place.
func TestShardSetArrivesAfterStart(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	src := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockWildcard("doubleclick.net")...)
	dir := t.TempDir()
	readyAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	srv := startServer(t, withPlugins(corefile(filepath.Join(dir, "shard-*.db"), up.Addr, "shards 3", "refresh 100ms"), "ready "+readyAddr))
	if r := query(t, srv.Addr, "udp", "x.doubleclick.net.", dns.TypeA, false); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("without shards: %v, want SERVFAIL", r)
	}
	if resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + readyAddr + "/ready"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("ready without shards")
		}
	}
	var shards []string
	for i := range 3 {
		shards = append(shards, filepath.Join(dir, fmt.Sprintf("shard-%d.db", i)))
	}
	if out, err := exec.Command(adminBinary(t), append([]string{"split", src}, shards...)...).CombinedOutput(); err != nil {
		t.Fatalf("split: %v\n%s", err, out)
	}
	waitReady(t, readyAddr)
	within(t, srv.Addr, "x.doubleclick.net.", true, time.Now(), 2*time.Second)
	if !strings.Contains(srv.Output(), "matches 0 files, want shards 3") {
		t.Errorf("no log line about the missing shards:\n%s", srv.Output())
	}
}

// TestReloadToAShardSetThatDoesNotOpenIsRefused: at a Corefile reload a
// shard set with a shard that does not open fails the reload, as one file
// does, and the shards opened before it are closed; once every shard is
// there, the same reload is applied.
func TestReloadToAShardSetThatDoesNotOpenIsRefused(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	db := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockExact("ads.example.com")...)
	db, _ = filepath.EvalSymlinks(db)
	srv := startServer(t, corefile(db, up.Addr, "pool 2"))
	src := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockWildcard("doubleclick.net")...)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	shards := []string{filepath.Join(dir, "s0.db"), filepath.Join(dir, "s1.db"), filepath.Join(dir, "s2.db")}
	if out, err := exec.Command(adminBinary(t), "split", src, shards[0], shards[1], filepath.Join(t.TempDir(), "elsewhere.db")).CombinedOutput(); err != nil {
		t.Fatalf("split: %v\n%s", err, out)
	}
	text, err := os.ReadFile(srv.conf)
	if err != nil {
		t.Fatal(err)
	}
	reload := func() {
		t.Helper()
		if err := os.WriteFile(srv.conf, []byte(strings.Replace(string(text), db, strings.Join(shards, " "), 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := srv.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
	}
	reload()
	if !testkit.Poll(5*time.Second, func() bool { return strings.Contains(srv.Output(), "the reload is refused") }) {
		t.Fatalf("no log line about the refused reload:\n%s", srv.Output())
	}
	if !strings.Contains(srv.Output(), shards[2]) {
		t.Errorf("the refusal does not name %s:\n%s", shards[2], srv.Output())
	}
	if !isBlocked(t, srv.Addr, "ads.example.com.") || isBlocked(t, srv.Addr, "x.doubleclick.net.") {
		t.Fatal("the running configuration does not serve its own file")
	}
	if n := testkit.FilesUnder(t, srv.PID(), dir); n != 0 {
		t.Errorf("%d descriptors left on the shards of the refused reload", n)
	}

	if out, err := exec.Command(adminBinary(t), append([]string{"split", src}, shards...)...).CombinedOutput(); err != nil {
		t.Fatalf("split: %v\n%s", err, out)
	}
	reload()
	within(t, srv.Addr, "x.doubleclick.net.", true, time.Now(), 5*time.Second)
	if isBlocked(t, srv.Addr, "ads.example.com.") {
		t.Error("a row of the old file is still enforced after the reload to the shards")
	}
}
