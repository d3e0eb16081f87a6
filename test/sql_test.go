package test

import (
	"database/sql"
	"testing"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// openRW opens the database for writing, as an operator's writer would, with a
// busy timeout so it waits for the server's readers instead of failing.
func openRW(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=rw&_busy_timeout=5000&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db
}
