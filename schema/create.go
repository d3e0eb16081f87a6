// Package schema creates, checks and migrates sqlitefilter databases.
package schema

import (
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"os"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

//go:embed pertype.sql
var perTypeDDL string

//go:embed normalized.sql
var normalizedDDL string

// The tables of schema version 2 (blocked answer addresses), kept apart so
// that Upgrade can add them to a file made before.
var (
	//go:embed answers_pertype.sql
	answersPerTypeDDL string
	//go:embed answers_normalized.sql
	answersNormalizedDDL string
)

// DDL returns the statements that create layout l.
func DDL(l Layout) string {
	if l == Normalized {
		return normalizedDDL + answersNormalizedDDL + inMemoryIndexDDL
	}
	return perTypeDDL + answersPerTypeDDL
}

// Create makes a new database at path with the per-type layout, in WAL mode
// so that readers keep serving while a writer edits it. It refuses to touch
// an existing file.
func Create(path string) error { return CreateLayout(path, PerType) }

// CreateLayout makes a new WAL-mode database at path with layout l. It
// refuses to touch an existing file.
func CreateLayout(path string, l Layout) error {
	if err := create(path, l, "WAL"); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return nil
}

// create makes the database in the given journal mode.
func create(path string, l Layout, journal string) error {
	if _, err := os.Stat(path); err == nil {
		return errors.New("file exists")
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	db, err := sql.Open("sqlite3", DSN(path, "mode=rwc&_txlock=immediate"))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec("PRAGMA journal_mode=" + journal); err != nil {
		return fmt.Errorf("set journal mode %s: %w", journal, err)
	}
	if _, err := db.Exec(DDL(l)); err != nil {
		return err
	}
	if err := AddChangeLog(db, l); err != nil {
		return err
	}
	return db.Close()
}
