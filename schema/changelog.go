package schema

import (
	"database/sql"
	_ "embed"
	"fmt"
)

// ChangeLog is the table that the triggers of changelog.sql fill with every
// key inserted into (or updated in) a LoggedTables table, so that a reader
// can keep an in-memory key filter in step with the writer without scanning.
const ChangeLog = "sqlitefilter_changes"

// LoggedTables are the tables whose keys the decision probes by equality
// (the suffix walk); their new keys go to the change log.
var LoggedTables = []Table{Allow, BlockExact, BlockWildcard, DNSBlock, Alias}

//go:embed changelog.sql
var changeLogDDL string

// ChangeLogTriggers names the triggers that log the keys of table t.
func ChangeLogTriggers(t Table) [2]string {
	return [2]string{ChangeLog + "_ins_" + t.Name(), ChangeLog + "_upd_" + t.Name()}
}

// AddChangeLog creates the change log and its triggers in an open per-type
// database. Bulk loaders create it after loading, so that the initial rows do
// not pass through the log.
func AddChangeLog(db *sql.DB) error {
	if _, err := db.Exec(changeLogDDL); err != nil {
		return fmt.Errorf("add change log: %w", err)
	}
	return nil
}
