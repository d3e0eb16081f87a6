package test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// storeKeyFilter runs `sqlitefilter keyfilter` on db.
func storeKeyFilter(t *testing.T, db string) {
	t.Helper()
	out, err := exec.Command(adminBinary(t), "keyfilter", db).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "key filter stored") {
		t.Fatalf("keyfilter %s: %v\n%s", db, err, out)
	}
}

// wantBlocked fails unless every name is answered 0.0.0.0.
func wantBlocked(t *testing.T, addr string, names ...string) {
	t.Helper()
	for _, name := range names {
		if !isBlocked(t, addr, name+".") {
			t.Fatalf("%s: not blocked", name)
		}
	}
}

// The server reads the key filter the admin command stored in the file,
// at start and for a file swapped in, instead of scanning the keys; the
// rows written after it was stored apply too (the change log gives them).
func TestStoredKeyFilterIsReadAtStartAndAtASwap(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "dns.db")
	// Rollback-journal files, as split and import --replace write them:
	// one is renamed over the other without a -wal left behind.
	testkit.CreateDB(t, db, schema.PerType, "delete", testkit.BlockExact("early.example.com")...)
	storeKeyFilter(t, db)
	testkit.ExecSQL(t, db, `INSERT INTO block_exact (Domain) VALUES ('late.example.com')`)

	up := testkit.StartUpstream(t, upstreamRecipe)
	readyAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	srv := startServer(t, withPlugins(corefile(db, up.Addr, "refresh 200ms"), "ready "+readyAddr))
	if !testkit.Poll(10*time.Second, func() bool { return readyStatus(t, readyAddr) == http.StatusOK }) {
		t.Fatalf("not ready:\n%s", srv.Output())
	}
	readFromFile := func() int { return strings.Count(srv.Output(), "Bloom filter ready: 2 keys") }
	if !strings.Contains(srv.Output(), "read from the file") || readFromFile() != 1 {
		t.Fatalf("the stored filter was not read at start:\n%s", srv.Output())
	}
	wantBlocked(t, srv.Addr, "early.example.com", "late.example.com")
	if r := query(t, srv.Addr, "udp", "other.example.com.", dns.TypeA, false); len(r.Answer) != 1 || !strings.HasSuffix(r.Answer[0].String(), upstreamA) {
		t.Fatalf("a name in no table: %v, want the upstream's answer", r)
	}

	next := filepath.Join(dir, "next.db")
	testkit.CreateDB(t, next, schema.PerType, "delete", testkit.BlockExact("swapped.example.com", "second.example.com")...)
	storeKeyFilter(t, next)
	if err := os.Rename(next, db); err != nil {
		t.Fatal(err)
	}
	within(t, srv.Addr, "swapped.example.com.", true, time.Now(), 3*time.Second)
	if got := strings.Count(srv.Output(), "read from the file"); got != 2 {
		t.Fatalf("the swapped-in file's stored filter was not read (%d reads):\n%s", got, srv.Output())
	}
	wantBlocked(t, srv.Addr, "second.example.com")
}
