package schema

import (
	"database/sql"
	_ "embed"
	"fmt"
)

// ChangeLog is the table that the change-log triggers fill with every key
// that appears in a table the decision probes by equality, so that a reader
// can keep an in-memory key filter in step with the writer without scanning.
const ChangeLog = "sqlitefilter_changes"

// LoggedTables are the per-type tables whose keys the decision probes by
// equality (the suffix walk); their new keys go to the change log.
var LoggedTables = []Table{Allow, BlockExact, BlockWildcard, DNSBlock, Alias}

// KeyColumn is a table and the column of its keys, as a key filter reads
// them.
type KeyColumn struct {
	Table  string
	Column string
}

// FilterKeys are where the keys every equality probe of layout l looks for
// are stored: the per-type tables' key columns, or the normalized layout's
// domains, which hold every name once whatever its rules.
func FilterKeys(l Layout) []KeyColumn {
	if l == Normalized {
		return []KeyColumn{{Table: "domains", Column: "domain"}}
	}
	out := make([]KeyColumn, len(LoggedTables))
	for i, t := range LoggedTables {
		out[i] = KeyColumn{Table: t.Name(), Column: t.KeyColumn()}
	}
	return out
}

var (
	//go:embed changelog.sql
	changeLogDDL string
	//go:embed changelog_pertype.sql
	changeLogPerTypeDDL string
	//go:embed changelog_normalized.sql
	changeLogNormalizedDDL string
)

// ChangeLogTriggers names the triggers that log the keys of table (a table
// of FilterKeys).
func ChangeLogTriggers(table string) [2]string {
	return [2]string{ChangeLog + "_ins_" + table, ChangeLog + "_upd_" + table}
}

// AddChangeLog creates the change log and the triggers of layout l in an
// open database. Bulk loaders create it after loading, so that the initial
// rows do not pass through the log.
func AddChangeLog(db *sql.DB, l Layout) error {
	ddl := changeLogDDL + changeLogPerTypeDDL
	if l == Normalized {
		ddl = changeLogDDL + changeLogNormalizedDDL
	}
	if _, err := db.Exec(ddl); err != nil {
		return fmt.Errorf("add change log: %w", err)
	}
	return nil
}

// KeyFilter and KeyFilterBits are the tables of a key filter stored with the
// data (keyfilter.sql).
const (
	KeyFilter     = "sqlitefilter_keyfilter"
	KeyFilterBits = "sqlitefilter_keyfilter_bits"
)

// KeyFilterDDL creates the tables of a stored key filter.
//
//go:embed keyfilter.sql
var KeyFilterDDL string

// ChangeLogKeep is how many of the last entries the change log keeps
// (changelog.sql): a reader that last read it, or a filter stored with
// the data, further behind than that must scan the tables instead.
const ChangeLogKeep = 100000
