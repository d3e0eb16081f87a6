package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMissingDatabaseStopsStartWithAClearError(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.db")
	_, err := tryStartServer(t, corefile(missing, "127.0.0.1:1"))
	if err == nil {
		t.Fatal("server started without its database")
	}
	for _, want := range []string{missing, "sqlitefilter init"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestNotADatabaseStopsStart(t *testing.T) {
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := tryStartServer(t, corefile(garbage, "127.0.0.1:1"))
	if err == nil || !strings.Contains(err.Error(), garbage) {
		t.Fatalf("want an error naming %s, got %v", garbage, err)
	}
}

func TestMissingTableIsLoggedAndEmpty(t *testing.T) {
	up := startUpstream(t)
	db := newDB(t, `DROP TABLE block_wildcard`, `INSERT INTO block_exact VALUES ('ads.example.com')`)
	srv := startServer(t, corefile(db, up.Addr))
	if r := query(t, srv.Addr, "udp", "ads.example.com.", 1, false); len(r.Answer) != 1 || !strings.HasSuffix(r.Answer[0].String(), "0.0.0.0") {
		t.Errorf("exact block not enforced with block_wildcard missing: %v", r.Answer)
	}
	if !strings.Contains(srv.Output(), "table block_wildcard is missing") {
		t.Errorf("no log line about the missing table:\n%s", srv.Output())
	}
}

func TestBadOptionNamesTheCorefileLine(t *testing.T) {
	db := newDB(t)
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
