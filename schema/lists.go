package schema

import (
	"database/sql"
	_ "embed"
	"fmt"
	"math"
)

//go:embed lists.sql
var listsDDL string

// The tables of named lists and client groups (lists.sql).
const (
	ListsTable        = "sqlitefilter_lists"
	GroupsTable       = "sqlitefilter_groups"
	GroupClientsTable = "sqlitefilter_group_clients"
)

// ListsColumn is the lists column of every rule table (per-type) or of
// records (normalized): the mask of the row's lists (bit i set when the row
// is in the list whose id is i), encoded from ListCodesVersion on
// (listcode.go; a version 3 file holds the plain mask). A row written
// without it is in `default` (1, which is both the mask and its code).
const ListsColumn = "lists"

// MaxLists is how many lists a database can hold: one bit each of a 64-bit
// integer (bit 63 makes the SQLite integer negative).
const MaxLists = 64

// DefaultList is the name of list 0, which rows written without a list are in.
const DefaultList = "default"

// DefaultGroup is the group of clients in no other group.
const DefaultGroup = "default"

// ListTables are the tables that hold the lists column in layout l.
// listsColumnType is the lists column's type. A row written without a
// value is in default (1). So is one written with NULL (ON CONFLICT
// REPLACE puts the default in its place): the sqlite3 shell's `.import` of
// a file with one column per line, what scripts for the tables without
// lists do, fills the missing column with NULL.
const listsColumnType = "INTEGER NOT NULL ON CONFLICT REPLACE DEFAULT 1"

func ListTables(l Layout) []string {
	if l == Normalized {
		return []string{"records"}
	}
	out := make([]string, len(Tables))
	for i, t := range Tables {
		out[i] = t.Name()
	}
	return out
}

// HasListsQuery returns one row: 1 when table (a table, not a view) has the
// lists column, else 0.
const HasListsQuery = `SELECT count(*) FROM sqlite_schema s, pragma_table_info(s.name) c
  WHERE s.type = 'table' AND s.name = ? AND c.name = 'lists'`

// Upgrade brings a database of either layout to lists: the lists column on
// every rule table it has (ALTER TABLE … ADD COLUMN with a constant default
// rewrites no row, so it is instant at any size, and every existing row reads
// as in `default`) and the lists and groups tables. It is idempotent and runs
// in one transaction; it reports whether it changed anything.
//
// A per-type table with the column has two columns, so a script that inserts
// without naming its columns (INSERT INTO block_exact VALUES ('x')) must name
// them from then on (INSERT INTO block_exact (Domain) VALUES ('x')), which
// puts the row in `default`. The normalized layout's views are unchanged, so
// there such a script keeps working as it is. That is why Create does not
// upgrade: a database gets lists when its operator first uses them.
//
// Upgrade brings a file of any older version to Version: UpgradeAnswers
// first (the block_ip tables, version 2), then the lists with their rows'
// masks encoded (version 4: a version 3 file's masks are re-encoded, a
// column added now holds 1, the code of `default`, already). The version is
// recorded in sqlitefilter_meta, which a file made by hand gets then: the
// plugin reads the encoded rows by it. A normalized file made before the
// index of its in-memory rules existed gets it (InMemoryIndex; it reads
// every record once). The steps are transactions of their own; each is
// idempotent, so an upgrade cut between them is finished by the next.
func Upgrade(db *sql.DB) (bool, error) {
	answers, err := upgradeAnswers(db)
	if err != nil {
		return false, err
	}
	lists, err := change(db, true)
	if err != nil {
		return false, err
	}
	indexed, err := addInMemoryIndex(db)
	return answers || lists || indexed, err
}

// AddListTables creates the lists and groups tables without touching the
// rule tables: what groups and pauses need, which work on a database whose
// rows are all in `default`. It reports whether it created anything.
func AddListTables(db *sql.DB) (bool, error) {
	return change(db, false)
}

func change(db *sql.DB, column bool) (bool, error) {
	l, err := Detect(db)
	if err != nil {
		return false, err
	}
	tx, err := db.Begin()
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	changed := false
	if column {
		var err error
		if changed, err = listsColumns(tx, l); err != nil {
			return false, err
		}
	}
	n, err := listTablesPresent(tx)
	if err != nil {
		return false, err
	}
	if _, err := tx.Exec(listsDDL); err != nil {
		return false, fmt.Errorf("create the lists tables: %w", err)
	}
	changed = changed || n < 3
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("upgrade to lists: %w", err)
	}
	return changed, nil
}

// listsColumns gives every rule table of layout l the lists column and
// brings the file to ListCodesVersion (encodeLists), in tx. It reports
// whether it changed anything.
func listsColumns(tx *sql.Tx, l Layout) (bool, error) {
	coded, err := recordedCodes(tx)
	if err != nil {
		return false, err
	}
	changed := false
	var plain []string // tables whose rows hold plain masks
	for _, t := range ListTables(l) {
		isTable, has, err := listsColumn(tx, t)
		if err != nil {
			return false, fmt.Errorf("upgrade %s: %w", t, err)
		}
		if !isTable {
			continue
		}
		if has {
			if !coded {
				plain = append(plain, t)
			}
			continue
		}
		if _, err := tx.Exec(fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s "+listsColumnType, t, ListsColumn)); err != nil {
			return false, fmt.Errorf("upgrade %s: %w", t, err)
		}
		changed = true
	}
	if coded {
		return changed, nil
	}
	if err := encodeLists(tx, plain); err != nil {
		return false, err
	}
	return true, nil
}

// UpgradeListCodes brings a file whose rule rows hold plain masks (version
// 3, or a file without sqlitefilter_meta given lists by an older
// sqlitefilter) to ListCodesVersion, in one transaction: what the admin
// command runs before it writes, so that it writes codes only. A file
// without the lists column, or at version 4 already, is left as it is. It
// reports whether it changed anything.
func UpgradeListCodes(db *sql.DB) (bool, error) {
	has, err := HasListsColumn(db)
	if err != nil || !has {
		return false, err
	}
	l, err := Detect(db)
	if err != nil {
		return false, err
	}
	tx, err := db.Begin()
	if err != nil {
		return false, fmt.Errorf("encode the lists: %w", err)
	}
	defer tx.Rollback()
	changed, err := listsColumns(tx, l)
	if err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("encode the lists: %w", err)
	}
	return changed, nil
}

// encodeLists re-encodes the plain masks of the tables' rows (the only
// rows whose code differs from their mask: one list of id 7 or more, and
// the values -64..-8) and records ListCodesVersion, creating
// sqlitefilter_meta when the file has none. Its schema change (PRAGMA
// schema_version moves on) makes a running plugin open the file anew, and
// read its rows as codes from then on.
func encodeLists(tx *sql.Tx, tables []string) error {
	for _, t := range tables {
		q := fmt.Sprintf("UPDATE %[1]s SET %[2]s = %[3]s WHERE %[2]s >= %[4]d AND (%[2]s & (%[2]s - 1)) = 0 OR %[2]s = %[5]d OR %[2]s BETWEEN %[6]d AND %[7]d",
			t, ListsColumn, EncodeListsSQL(ListsColumn), 1<<lowLists, int64(math.MinInt64), -MaxLists, -lowLists-1)
		if _, err := tx.Exec(q); err != nil {
			return fmt.Errorf("encode the lists of %s: %w", t, err)
		}
	}
	if _, err := tx.Exec(metaDDL); err != nil {
		return fmt.Errorf("record schema version %d: %w", ListCodesVersion, err)
	}
	if _, err := tx.Exec(setVersionSQL, ListCodesVersion); err != nil {
		return fmt.Errorf("record schema version %d: %w", ListCodesVersion, err)
	}
	var v int64
	if err := tx.QueryRow("PRAGMA schema_version").Scan(&v); err != nil {
		return fmt.Errorf("record schema version %d: %w", ListCodesVersion, err)
	}
	if _, err := tx.Exec(fmt.Sprintf("PRAGMA schema_version = %d", v+1)); err != nil {
		return fmt.Errorf("record schema version %d: %w", ListCodesVersion, err)
	}
	return nil
}

// metaDDL creates sqlitefilter_meta as Create does, for a file made by hand.
const metaDDL = `CREATE TABLE IF NOT EXISTS sqlitefilter_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID`

// recordedCodes reports whether the file records ListCodesVersion or later.
func recordedCodes(db querier) (bool, error) {
	v, err := SchemaVersion(db)
	if err != nil {
		return false, fmt.Errorf("read the schema version: %w", err)
	}
	return v >= ListCodesVersion, nil
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryRow(q string, args ...any) *sql.Row
}

// listsColumn reports whether t is a table (not a view) and whether it has
// the lists column.
func listsColumn(db querier, t string) (isTable, has bool, err error) {
	var n, c int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", t).Scan(&n); err != nil || n == 0 {
		return false, false, err
	}
	err = db.QueryRow(HasListsQuery, t).Scan(&c)
	return true, c != 0, err
}

func listTablesPresent(db querier) (int, error) {
	var n int
	err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN (?, ?, ?)", ListsTable, GroupsTable, GroupClientsTable).Scan(&n)
	return n, err
}

// HasListsColumn reports whether the rule tables of the database carry the
// lists column (any one of them does: Upgrade adds it to all at once).
func HasListsColumn(db *sql.DB) (bool, error) {
	l, err := Detect(db)
	if err != nil {
		return false, err
	}
	for _, t := range ListTables(l) {
		_, has, err := listsColumn(db, t)
		if err != nil || has {
			return has, err
		}
	}
	return false, nil
}

// HasListTables reports whether the lists and groups tables exist.
func HasListTables(db *sql.DB) (bool, error) {
	n, err := listTablesPresent(db)
	return n == 3, err
}

// rowsSelect is a SELECT of every row of table t in database db ("main",
// "src", …) of layout l, whose rows hold their lists in coding from, as
// columns (k, v, m): the key, the target (NULL for key-only tables) and the
// lists in coding want (1, i.e. `default`, when the database has no lists
// column).
func rowsSelect(db string, t Table, l Layout, from, want ListsCoding) string {
	target := "NULL"
	if l == Normalized {
		if t.TargetColumn() != "" {
			target = "r.target_value"
		}
		m := from.As("r."+ListsColumn, want)
		return fmt.Sprintf("SELECT d.domain AS k, %s AS v, %s AS m FROM %s.records r JOIN %s.domains d ON d.domain_id = r.domain_id WHERE r.record_type = '%s'",
			target, m, db, db, t.RecordType())
	}
	if t.TargetColumn() != "" {
		target = t.TargetColumn()
	}
	m := from.As(ListsColumn, want)
	return fmt.Sprintf("SELECT %s AS k, %s AS v, %s AS m FROM %s.%s", t.KeyColumn(), target, m, db, t.Name())
}

// copyListTables copies the lists and groups tables of the attached src into
// main, which has them (empty but for `default`).
func copyListTables(tx *sql.Tx) error {
	for _, q := range []string{
		"INSERT OR REPLACE INTO main." + ListsTable + " SELECT * FROM src." + ListsTable,
		"INSERT INTO main." + GroupsTable + " SELECT * FROM src." + GroupsTable,
		"INSERT INTO main." + GroupClientsTable + " SELECT * FROM src." + GroupClientsTable,
	} {
		if _, err := tx.Exec(q); err != nil {
			return fmt.Errorf("copy the lists tables: %w", err)
		}
	}
	return nil
}
