package test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

var stackCount = regexp.MustCompile(`^(\d+) @`)

// goroutines reads from the pprof plugin how many of the server's goroutines
// run sqlitefilter code outside a query. Other plugins' goroutines are left
// out: forward, for one, keeps a connection manager per reload that is not
// ours to judge.
func goroutines(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(string(body), "goroutine profile") {
		t.Fatalf("not a goroutine profile: %.200s", body)
	}
	n := 0
	for _, stack := range strings.Split(string(body), "\n\n") {
		m := stackCount.FindStringSubmatch(stack)
		// A query's goroutine may still be unwinding through the plugin
		// after its answer arrived: only long-lived goroutines count.
		if m != nil && strings.Contains(stack, "/plugin/sqlitefilter.") && !strings.Contains(stack, "ServeDNS") {
			c, _ := strconv.Atoi(m[1])
			n += c
		}
	}
	return n
}

// TestReloadClosesTheOldPool reloads the Corefile (SIGUSR1, the path the
// reload plugin takes) several times and checks that connections and
// goroutines return to their level, that blocking holds across reloads, and
// that a reload to a broken Corefile leaks nothing and keeps the old config.
func TestReloadClosesTheOldPool(t *testing.T) {
	for _, mode := range []string{"wal", "delete"} {
		t.Run(mode, func(t *testing.T) { testReload(t, mode) })
	}
}

func testReload(t *testing.T, journalMode string) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	db := testkit.NewDB(t, schema.PerType, journalMode, testkit.BlockExact("ads.example.com")...)
	db, _ = filepath.EvalSymlinks(db)
	pprofAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	conf := strings.Replace(corefile(db, up.Addr, "pool 4"), "    bind 127.0.0.1\n", "    bind 127.0.0.1\n    pprof "+pprofAddr+"\n", 1)
	srv := startServer(t, conf)

	settle := func() {
		time.Sleep(1500 * time.Millisecond)
	}
	blocked := func() {
		t.Helper()
		r := query(t, srv.Addr, "udp", "ads.example.com.", dns.TypeA, false)
		if len(r.Answer) != 1 || !strings.HasSuffix(r.Answer[0].String(), "0.0.0.0") {
			t.Fatalf("not blocked after reload: %v", r.Answer)
		}
	}
	blocked()
	settle()
	files, routines := testkit.DBFiles(t, srv.PID(), db), goroutines(t, pprofAddr)
	if routines == 0 {
		t.Fatal("no sqlitefilter goroutine found: the watcher should run")
	}
	// pool 4, the watcher, and the reader of the file's pages that builds
	// the key filter (one per file in the process, however many stores).
	if files != 6 {
		t.Fatalf("%d descriptors on the database, want 6 (pool 4 + watcher + page reader)", files)
	}

	for i := range 3 {
		if err := srv.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		settle()
		blocked()
		got := testkit.DBFiles(t, srv.PID(), db)
		if i == 0 && journalMode == "wal" {
			// SQLite defers closing a descriptor while another connection of the
			// process holds a POSIX lock on the same file (closing would drop that
			// lock), and reuses it for the next open: in WAL mode the new pool
			// holds read locks, so the old pool's descriptors stay parked once.
			if got > 2*files {
				t.Errorf("reload 1: %d descriptors on the database, want at most %d", got, 2*files)
			}
			files = got
		} else if got != files {
			t.Errorf("reload %d: %d descriptors on the database, want %d", i+1, got, files)
		}
		g := goroutines(t, pprofAddr)
		t.Logf("reload %d: %d descriptors, %d goroutines", i+1, got, g)
		if g != routines {
			t.Errorf("reload %d: %d goroutines, was %d", i+1, g, routines)
		}
	}

	// A broken Corefile: the reload fails and the old instance keeps serving.
	text, err := os.ReadFile(srv.conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(srv.conf, []byte(strings.Replace(string(text), "pool 4", "pool 4\n        nonsense 1", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Process.Signal(syscall.SIGUSR1)
	settle()
	blocked()
	if got := testkit.DBFiles(t, srv.PID(), db); got != files {
		t.Errorf("failed reload: %d descriptors on the database, want %d", got, files)
	}
	if !strings.Contains(srv.Output(), "nonsense") {
		t.Errorf("failed reload did not report the bad option:\n%s", srv.Output())
	}
}

// TestReloadToADatabaseThatDoesNotOpenIsRefused: at a reload, unlike at the
// first start, a database that does not open fails the reload, so the
// running configuration keeps filtering.
func TestReloadToADatabaseThatDoesNotOpenIsRefused(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	db := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockExact("ads.example.com")...)
	db, _ = filepath.EvalSymlinks(db)
	srv := startServer(t, corefile(db, up.Addr, "pool 4"))
	files := testkit.DBFiles(t, srv.PID(), db)
	missing := filepath.Join(filepath.Dir(db), "typo.db")
	text, err := os.ReadFile(srv.conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(srv.conf, []byte(strings.Replace(string(text), db, missing, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if !testkit.Poll(5*time.Second, func() bool { return strings.Contains(srv.Output(), "the reload is refused") }) {
		t.Fatalf("no log line about the refused reload:\n%s", srv.Output())
	}
	if !strings.Contains(srv.Output(), missing) {
		t.Errorf("the refusal does not name %s:\n%s", missing, srv.Output())
	}
	r := query(t, srv.Addr, "udp", "ads.example.com.", dns.TypeA, false)
	if len(r.Answer) != 1 || !strings.HasSuffix(r.Answer[0].String(), "0.0.0.0") {
		t.Fatalf("the running configuration stopped blocking: %v", r.Answer)
	}
	if got := testkit.DBFiles(t, srv.PID(), db); got != files {
		t.Errorf("%d descriptors on the database after the refused reload, want %d", got, files)
	}
}

// TestReloadPluginAppliesAnEditedCorefile goes through the reload plugin
// itself: the Corefile is edited on disk, the plugin notices it, and the new
// stanza's options take effect with the old pool closed.
func TestReloadPluginAppliesAnEditedCorefile(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	db := testkit.NewDB(t, schema.PerType, "delete", testkit.BlockExact("ads.example.com")...)
	db, _ = filepath.EvalSymlinks(db)
	conf := strings.Replace(corefile(db, up.Addr, "pool 3"), "    bind 127.0.0.1\n", "    bind 127.0.0.1\n    reload 2s 1s\n", 1)
	srv := startServer(t, conf)
	if r := query(t, srv.Addr, "udp", "ads.example.com.", dns.TypeA, false); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("before the edit: %v", r)
	}
	files := testkit.DBFiles(t, srv.PID(), db)

	text, err := os.ReadFile(srv.conf)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(text), "pool 3", "pool 3\n        block_response nxdomain", 1)
	if err := os.WriteFile(srv.conf, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	var r *dns.Msg
	applied := func() bool {
		r = query(t, srv.Addr, "udp", "ads.example.com.", dns.TypeA, false)
		return r.Rcode == dns.RcodeNameError
	}
	if !testkit.Poll(15*time.Second, applied) {
		t.Fatalf("edited Corefile not applied within 15s: %v", r)
	}
	// The old instance shuts down right after the new one starts serving.
	testkit.Poll(5*time.Second, func() bool { return testkit.DBFiles(t, srv.PID(), db) == files })
	if got := testkit.DBFiles(t, srv.PID(), db); got != files {
		t.Errorf("%d descriptors on the database after the reload, want %d", got, files)
	}
}
