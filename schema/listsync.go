package schema

import (
	"database/sql"
	_ "embed"
	"fmt"
)

//go:embed listsync.sql
var listSyncDDL string

// ListSyncTable holds, per list, the validators of the body last imported
// from its URL and the outcome of the last sync (listsync.sql).
const ListSyncTable = "sqlitefilter_list_sync"

// listSyncColumns are the columns of ListSyncTable, in the order a copy
// names them.
const listSyncColumns = "list_id, url, etag, last_modified, size, mtime, sha256, updated_at, status, status_at"

// AddListSync creates the sync table when the database has none, and reports
// whether it did. It is the admin command's bookkeeping, not rules: the
// plugin never reads it, and a file without it is complete (the first sync
// then downloads every list in full). So it does not move the schema
// version. It is idempotent.
func AddListSync(db *sql.DB) (bool, error) {
	has, err := hasTable(db, ListSyncTable)
	if err != nil || has {
		return false, err
	}
	if _, err := db.Exec(listSyncDDL); err != nil {
		return false, fmt.Errorf("create %s: %w", ListSyncTable, err)
	}
	return true, nil
}

// hasTable reports whether the database has a table called name.
func hasTable(db querier, name string) (bool, error) {
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", name).Scan(&n); err != nil {
		return false, fmt.Errorf("look for %s: %w", name, err)
	}
	return n > 0, nil
}

// copyListSync creates the sync table in main and copies the rows of the
// attached src's into it, so that a rebuilt file keeps asking its sources
// whether they changed rather than downloading every list again.
func copyListSync(tx *sql.Tx) error {
	if _, err := tx.Exec(listSyncDDL); err != nil {
		return fmt.Errorf("create %s: %w", ListSyncTable, err)
	}
	q := fmt.Sprintf("INSERT INTO main.%s (%s) SELECT %s FROM src.%s", ListSyncTable, listSyncColumns, listSyncColumns, ListSyncTable)
	if _, err := tx.Exec(q); err != nil {
		return fmt.Errorf("copy %s: %w", ListSyncTable, err)
	}
	return nil
}
