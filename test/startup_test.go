package test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// readyStatus is the HTTP status of the ready plugin's endpoint.
func readyStatus(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A database missing at start (not yet delivered by an init container or a
// sidecar, or a wrong path) does not stop the server: it is not ready, says
// why in its log, answers as on_error says, and takes the file up as soon as
// it appears.
func TestMissingDatabaseAtStartIsNotReadyUntilItAppears(t *testing.T) {
	tests := []struct {
		onError string
		want    func(*dns.Msg) bool
	}{
		{"fail_closed", func(r *dns.Msg) bool { return r.Rcode == dns.RcodeServerFailure }},
		{"fail_open", func(r *dns.Msg) bool {
			return r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1 && strings.HasSuffix(r.Answer[0].String(), upstreamA)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.onError, func(t *testing.T) {
			up := testkit.StartUpstream(t, upstreamRecipe)
			missing := filepath.Join(t.TempDir(), "nope.db")
			readyAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
			srv := startServer(t, withPlugins(corefile(missing, up.Addr, "on_error "+tc.onError), "ready "+readyAddr))
			if got := readyStatus(t, readyAddr); got != http.StatusServiceUnavailable {
				t.Errorf("ready answers %d without the database, want 503", got)
			}
			if r := query(t, srv.Addr, "udp", "ads.example.com.", dns.TypeA, false); !tc.want(r) {
				t.Errorf("on_error %s: answer without the database: %v", tc.onError, r)
			}
			for _, want := range []string{missing, "sqlitefilter init", "not ready"} {
				if !strings.Contains(srv.Output(), want) {
					t.Errorf("log does not mention %q:\n%s", want, srv.Output())
				}
			}
			testkit.CreateDB(t, missing, schema.PerType, "wal", testkit.BlockExact("ads.example.com")...)
			t.Logf("database taken up %s after it appeared", within(t, srv.Addr, "ads.example.com.", true, time.Now(), 1500*time.Millisecond))
			// Ready follows once the key filter of the new file is built.
			if !testkit.Poll(10*time.Second, func() bool { return readyStatus(t, readyAddr) == http.StatusOK }) {
				t.Errorf("ready answers %d with the database, want 200", readyStatus(t, readyAddr))
			}
		})
	}
}

func TestNotADatabaseIsNotReadyUntilReplaced(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "rules.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	readyAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	srv := startServer(t, withPlugins(corefile(garbage, up.Addr), "ready "+readyAddr))
	if got := readyStatus(t, readyAddr); got != http.StatusServiceUnavailable {
		t.Errorf("ready answers %d on a file that is not a database, want 503", got)
	}
	if !strings.Contains(srv.Output(), garbage) {
		t.Errorf("log does not name %s:\n%s", garbage, srv.Output())
	}
	next := filepath.Join(dir, "rules.db.next")
	testkit.CreateDB(t, next, schema.PerType, "delete", testkit.BlockExact("ads.example.com")...)
	replaceFile(t, next, garbage)
	within(t, srv.Addr, "ads.example.com.", true, time.Now(), 1500*time.Millisecond)
	if !testkit.Poll(10*time.Second, func() bool { return readyStatus(t, readyAddr) == http.StatusOK }) {
		t.Errorf("ready answers %d once the database is in place, want 200", readyStatus(t, readyAddr))
	}
}

func TestMissingTableIsLoggedAndEmpty(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	db := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockExact("ads.example.com")...)
	testkit.ExecSQL(t, db, `DROP TABLE block_wildcard`)
	srv := startServer(t, corefile(db, up.Addr))
	if r := query(t, srv.Addr, "udp", "ads.example.com.", 1, false); len(r.Answer) != 1 || !strings.HasSuffix(r.Answer[0].String(), "0.0.0.0") {
		t.Errorf("exact block not enforced with block_wildcard missing: %v", r.Answer)
	}
	if !strings.Contains(srv.Output(), "table block_wildcard is missing") {
		t.Errorf("no log line about the missing table:\n%s", srv.Output())
	}
}

func TestBadOptionNamesTheCorefileLine(t *testing.T) {
	db := testkit.NewDB(t, schema.PerType, "wal")
	tests := []struct{ option, want string }{
		{"pool 0", "pool"},
		{"pool x", "pool"},
		{"frobnicate yes", "unknown option"},
	}
	for _, tc := range tests {
		_, err := tryStartServer(t, corefile(db, "127.0.0.1:1", tc.option))
		if err == nil {
			t.Errorf("%q: server started", tc.option)
			continue
		}
		// The option sits on line 4 of the Corefile that corefile() writes.
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Corefile:4") {
			t.Errorf("%q: error does not name the option and Corefile:4:\n%v", tc.option, err)
		}
	}
}
