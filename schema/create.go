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

// Create makes a new database at path with the per-type layout, in WAL mode
// so that readers keep serving while a writer edits it. It refuses to touch
// an existing file.
func Create(path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("create %s: file exists", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("create %s: %w", path, err)
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=rwc&_txlock=immediate")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.Exec("PRAGMA journal_mode=WAL"); err != nil {
		return fmt.Errorf("create %s: set WAL mode: %w", path, err)
	}
	if _, err := db.Exec(perTypeDDL); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return db.Close()
}
