// Package testkit is the one set of test helpers every package of this
// module uses: databases of either layout, a fake upstream resolver, loopback
// ports, descriptor counts and bounded waiting. It imports nothing under
// plugin/, so that the plugin's own tests can use it too.
package testkit

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// Row is one rule row in layout-neutral terms: it is inserted through the
// per-type (legacy) table name, which the normalized layout has as a view.
type Row struct {
	Table       schema.Table
	Key, Target string
}

// Row constructors, one per rule table, to keep case tables short.
func Allow(keys ...string) []Row            { return keyRows(schema.Allow, keys) }
func BlockExact(keys ...string) []Row       { return keyRows(schema.BlockExact, keys) }
func BlockWildcard(keys ...string) []Row    { return keyRows(schema.BlockWildcard, keys) }
func BlockRegex(keys ...string) []Row       { return keyRows(schema.BlockRegex, keys) }
func DNSBlock(keys ...string) []Row         { return keyRows(schema.DNSBlock, keys) }
func Alias(source, target string) []Row     { return []Row{{schema.Alias, source, target}} }
func RewriteV4(source, target string) []Row { return []Row{{schema.RewriteV4, source, target}} }
func RewriteV6(source, target string) []Row { return []Row{{schema.RewriteV6, source, target}} }
func BlockIPv4(keys ...string) []Row        { return keyRows(schema.BlockIPv4, keys) }
func BlockIPv6(keys ...string) []Row        { return keyRows(schema.BlockIPv6, keys) }

// Rows concatenates row sets, in order.
func Rows(sets ...[]Row) []Row {
	var out []Row
	for _, s := range sets {
		out = append(out, s...)
	}
	return out
}

func keyRows(t schema.Table, keys []string) []Row {
	out := make([]Row, len(keys))
	for i, k := range keys {
		out[i] = Row{Table: t, Key: k}
	}
	return out
}

// NewDB creates rules.db in a fresh temporary directory (see CreateDB) and
// returns its path.
func NewDB(t testing.TB, layout schema.Layout, journalMode string, rows ...Row) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.db")
	CreateDB(t, path, layout, journalMode, rows...)
	return path
}

// CreateDB creates a database at path as the admin command's init does
// (schema.CreateLayout), switches it to journalMode ("wal", the default of
// init, or "delete", the rollback journal a file renamed into place uses),
// and inserts rows. Every connection is closed when it returns, so the file
// is complete without its -wal.
func CreateDB(t testing.TB, path string, layout schema.Layout, journalMode string, rows ...Row) {
	t.Helper()
	if err := schema.CreateLayout(path, layout); err != nil {
		t.Fatal(err)
	}
	db := OpenRW(t, path)
	defer db.Close()
	var got string
	if err := db.QueryRow("PRAGMA journal_mode=" + journalMode).Scan(&got); err != nil {
		t.Fatalf("%s: journal mode %s: %v", path, journalMode, err)
	}
	if !strings.EqualFold(got, journalMode) {
		t.Fatalf("%s: journal mode is %s, want %s", path, got, journalMode)
	}
	insert(t, db, rows)
}

// WithLists upgrades the database at path to lists (schema.Upgrade: the
// lists column, the lists and groups tables) and runs the statements, which
// usually name lists, memberships and groups. It returns path.
func WithLists(t testing.TB, path string, statements ...string) string {
	t.Helper()
	db := OpenRW(t, path)
	if _, err := schema.Upgrade(db); err != nil {
		db.Close()
		t.Fatalf("%s: upgrade: %v", path, err)
	}
	db.Close()
	ExecSQL(t, path, statements...)
	return path
}

// WithPlainLists is WithLists for a file as version 3 made it: its lists
// column holds plain masks (bit i = list id i), which the statements write,
// and its recorded version is schema.ListsVersion. It returns path.
func WithPlainLists(t testing.TB, path string, statements ...string) string {
	t.Helper()
	WithLists(t, path, fmt.Sprintf("UPDATE sqlitefilter_meta SET value = '%d' WHERE key = 'schema_version'", schema.ListsVersion))
	ExecSQL(t, path, statements...)
	return path
}

// InsertRows adds rows to the database at path, in one transaction.
func InsertRows(t testing.TB, path string, rows ...Row) {
	t.Helper()
	db := OpenRW(t, path)
	defer db.Close()
	insert(t, db, rows)
}

func insert(t testing.TB, db *sql.DB, rows []Row) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, r := range rows {
		q, args := insertStatement(r)
		if _, err := tx.Exec(q, args...); err != nil {
			t.Fatalf("%s %q: %v", q, args, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func insertStatement(r Row) (string, []any) {
	tbl, key := r.Table.Name(), r.Table.KeyColumn()
	if target := r.Table.TargetColumn(); target != "" {
		return fmt.Sprintf("INSERT INTO %s (%s, %s) VALUES (?, ?)", tbl, key, target), []any{r.Key, r.Target}
	}
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES (?)", tbl, key), []any{r.Key}
}

// ExecSQL runs statements (each may hold several, separated by ";") against
// the database with the sqlite3 driver, as an operator's writer would.
func ExecSQL(t testing.TB, path string, statements ...string) {
	t.Helper()
	if len(statements) == 0 {
		return
	}
	db := OpenRW(t, path)
	defer db.Close()
	for _, s := range statements {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// OpenRW opens the database for writing, as an operator's writer would: one
// connection, write transactions that take the lock at BEGIN, and a busy
// timeout so it waits for a server's readers instead of failing. The caller
// closes it.
func OpenRW(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", schema.DSN(path, "mode=rw&_busy_timeout=5000&_txlock=immediate"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db
}

// OpenRO opens the database read-only, with a busy timeout so that a reader
// racing a writer (an import in another process) waits instead of failing.
// The caller closes it.
func OpenRO(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", schema.DSN(path, "mode=ro&_busy_timeout=5000"))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// SplitShards splits the database src into n shards with schema.Split, as
// the admin command's split does, in a fresh temporary directory, and
// returns the shards in shard order and the PATTERN a Corefile names them by.
func SplitShards(t testing.TB, src string, n int) (paths []string, pattern string) {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		paths = append(paths, filepath.Join(dir, fmt.Sprintf("shard-%02d.db", i)))
	}
	if err := schema.Split(src, paths); err != nil {
		t.Fatal(err)
	}
	return paths, filepath.Join(dir, "shard-*.db")
}
