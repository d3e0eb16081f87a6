package test

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// regexBlocked is a name only a block_regex pattern blocks, among many.
const regexBlocked = "ads7.regex.test."

// TestReloadLeaksNoRegexBlockedAnswer: the in-memory rules of a reloaded
// instance are built before it serves, so a query loop for a name only a
// pattern blocks never gets the upstream's address, through several
// reloads, with 20,001 patterns to compile each time.
func TestReloadLeaksNoRegexBlockedAnswer(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	rows := testkit.BlockRegex(append(testkit.RegexPatterns(20000), `^ads[0-9]+\.regex\.test$`)...)
	db := testkit.NewDB(t, schema.PerType, "wal", rows...)
	srv := startServer(t, corefile(db, up.Addr))
	testkit.Eventually(t, "the server to be ready", 30*time.Second, func() bool { return isBlocked(t, srv.Addr, regexBlocked) })
	l := startLoad(t, srv.Addr, regexBlocked, "www.example.org.")
	for i := range 3 {
		before := strings.Count(srv.Output(), "Reloading complete")
		if err := srv.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		if !testkit.Poll(30*time.Second, func() bool { return strings.Count(srv.Output(), "Reloading complete") > before }) {
			t.Fatalf("reload %d did not complete:\n%s", i+1, srv.Output())
		}
		time.Sleep(300 * time.Millisecond) // queries to the new instance
	}
	l.Stop()
	l.check(t, "three reloads")
}

// TestTablesDroppedAndCreatedUnderLoad: a table dropped while the server
// runs becomes an empty feature, one created applies, within refresh, and
// neither fails a query nor stops the in-memory rules from following the
// data.
func TestTablesDroppedAndCreatedUnderLoad(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	db := testkit.NewDB(t, schema.PerType, "wal", testkit.Rows(
		testkit.BlockExact("ads.example.com"),
		testkit.Allow("kept.example.net"),
		testkit.BlockWildcard("kept.example.net"),
	)...)
	srv := startServer(t, corefile(db, up.Addr))
	l := startLoad(t, srv.Addr, "ads.example.com.", "www.example.org.")

	// Dropping the allow table: its rows are gone (the wildcard below it now
	// blocks), and nothing else changes.
	from := time.Now()
	testkit.ExecSQL(t, db, "DROP TABLE fqdn_dns_allow")
	d := within(t, srv.Addr, "kept.example.net.", true, from, 3*time.Second)
	t.Logf("dropped fqdn_dns_allow applied in %s", d.Round(time.Millisecond))

	// Created again with a row: it applies.
	from = time.Now()
	testkit.ExecSQL(t, db, "CREATE TABLE fqdn_dns_allow (Domain TEXT PRIMARY KEY) WITHOUT ROWID",
		"INSERT INTO fqdn_dns_allow VALUES ('kept.example.net')")
	d = within(t, srv.Addr, "kept.example.net.", false, from, 3*time.Second)
	t.Logf("created fqdn_dns_allow applied in %s", d.Round(time.Millisecond))

	// A dropped table the loader reads (ip_rewrite_v6) does not stop the
	// regex set from following its table.
	testkit.ExecSQL(t, db, "DROP TABLE ip_rewrite_v6")
	from = time.Now()
	testkit.ExecSQL(t, db, `INSERT INTO block_regex VALUES ('^track[0-9]+\.example\.org$')`)
	d = within(t, srv.Addr, "track42.example.org.", true, from, 3*time.Second)
	t.Logf("a regex row after a dropped ip_rewrite_v6 applied in %s", d.Round(time.Millisecond))

	// A table the file never had, created with a row: it applies.
	testkit.ExecSQL(t, db, "DROP TABLE block_wildcard")
	from = time.Now()
	testkit.ExecSQL(t, db, "CREATE TABLE block_wildcard (Domain TEXT PRIMARY KEY) WITHOUT ROWID",
		"INSERT INTO block_wildcard VALUES ('new.example.net')")
	d = within(t, srv.Addr, "x.new.example.net.", true, from, 3*time.Second)
	t.Logf("created block_wildcard applied in %s", d.Round(time.Millisecond))

	l.Stop()
	l.check(t, "tables dropped and created")
}
