package schema

import (
	"database/sql"
	"fmt"
	"strings"
)

// UpgradeAnswers brings a database made by an older version up to
// AnswersVersion at least, in one transaction, and leaves one at that version
// or later as it is; Upgrade (lists.go) runs it first, then adds the lists.
// Version 2 adds the blocked
// answer addresses (block_ip_v4, block_ip_v6): tables in the per-type
// layout; in the normalized layout two record types, which the CHECK
// constraint of records must admit, and their legacy views.
//
// The plugin needs none of this to read an older file (a missing table is
// an empty feature); the admin command upgrades before it writes, so that
// rows can go into the new tables. A database with no sqlitefilter_meta
// (made by hand) gets the tables but keeps reporting version 0.
//
// It does not add the lists column to a file without it (that is Upgrade's,
// which the operator asks for: it changes what a positional INSERT must
// name); a per-type file that has it already gets it on the new tables too,
// so that every rule table has it or none does, and then reports
// ListsVersion.
func UpgradeAnswers(db *sql.DB) error {
	_, err := upgradeAnswers(db)
	return err
}

// upgradeAnswers is UpgradeAnswers, reporting whether it changed anything.
func upgradeAnswers(db *sql.DB) (bool, error) {
	l, err := Detect(db)
	if err != nil {
		return false, err
	}
	present, err := Present(db)
	if err != nil {
		return false, fmt.Errorf("upgrade: %w", err)
	}
	if present[BlockIPv4] && present[BlockIPv6] {
		return false, nil
	}
	tx, err := db.Begin()
	if err != nil {
		return false, fmt.Errorf("upgrade: %w", err)
	}
	defer tx.Rollback()
	ddl := answersPerTypeDDL
	if l == Normalized {
		ddl = answersNormalizedDDL
		if err := admitRecordTypes(tx, BlockIPv4, BlockIPv6); err != nil {
			return false, fmt.Errorf("upgrade: %w", err)
		}
	}
	var meta int
	if err := tx.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'sqlitefilter_meta'`).Scan(&meta); err != nil {
		return false, fmt.Errorf("upgrade: %w", err)
	}
	// The DDL records AnswersVersion; a file that records a later one
	// (its block_ip tables dropped by hand) keeps it.
	was, err := SchemaVersion(tx)
	if err != nil {
		return false, fmt.Errorf("upgrade: %w", err)
	}
	if meta == 0 || was > AnswersVersion {
		ddl = ddl[:strings.LastIndex(ddl, "INSERT OR REPLACE INTO sqlitefilter_meta")]
	}
	if _, err := tx.Exec(ddl); err != nil {
		return false, fmt.Errorf("upgrade to schema version %d: %w", AnswersVersion, err)
	}
	if l == PerType {
		// A file given lists before it had these tables: they get the
		// column too, and the file is then at the newest version.
		if _, has, err := listsColumn(tx, BlockExact.Name()); err != nil {
			return false, fmt.Errorf("upgrade: %w", err)
		} else if has {
			for _, t := range []Table{BlockIPv4, BlockIPv6} {
				if _, err := tx.Exec(fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s "+listsColumnType, t.Name(), ListsColumn)); err != nil {
					return false, fmt.Errorf("upgrade %s: %w", t.Name(), err)
				}
			}
			// Below ListsVersion the rows hold plain masks, and still do
			// at ListsVersion (UpgradeListCodes encodes them).
			if meta != 0 && was < ListsVersion {
				if _, err := tx.Exec(setVersionSQL, ListsVersion); err != nil {
					return false, fmt.Errorf("upgrade: %w", err)
				}
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("upgrade: %w", err)
	}
	return true, nil
}

// admitRecordTypes widens the CHECK constraint of records to the record
// types of ts. SQLite cannot alter a constraint, and rebuilding records
// would rewrite every row of a file of any size; since a wider list accepts
// every row the old one did, editing the table's definition in place is
// safe (https://sqlite.org/lang_altertable.html#otheralter, the procedure
// for loosening a constraint), and costs nothing whatever the row count.
// A records table whose CHECK does not list ip_rewrite_v6 as written by
// normalized.sql is not ours to edit: it is left alone.
func admitRecordTypes(tx *sql.Tx, ts ...Table) error {
	var ddl string
	if err := tx.QueryRow(`SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'records'`).Scan(&ddl); err != nil {
		return fmt.Errorf("read records: %w", err)
	}
	anchor := "'" + RewriteV6.RecordType() + "'"
	var add []string
	for _, t := range ts {
		if !strings.Contains(ddl, "'"+t.RecordType()+"'") {
			add = append(add, "'"+t.RecordType()+"'")
		}
	}
	if len(add) == 0 || strings.Count(ddl, anchor) != 1 {
		return nil
	}
	wider := strings.Replace(ddl, anchor, anchor+", "+strings.Join(add, ", "), 1)
	var version int64
	if err := tx.QueryRow("PRAGMA schema_version").Scan(&version); err != nil {
		return err
	}
	if _, err := tx.Exec("PRAGMA writable_schema = ON"); err != nil {
		return err
	}
	if _, err := tx.Exec(`UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = 'records'`, wider); err != nil {
		return fmt.Errorf("widen records: %w", err)
	}
	// Other connections re-read the schema when its version moves on.
	if _, err := tx.Exec(fmt.Sprintf("PRAGMA schema_version = %d", version+1)); err != nil {
		return err
	}
	// RESET turns writable_schema off and makes this connection read the
	// widened definition before the views are created over it.
	if _, err := tx.Exec("PRAGMA writable_schema = RESET"); err != nil {
		return err
	}
	return nil
}

// setVersionSQL records the schema version (the one argument) in
// sqlitefilter_meta.
const setVersionSQL = `INSERT OR REPLACE INTO sqlitefilter_meta (key, value) VALUES ('schema_version', CAST(? AS TEXT))`
