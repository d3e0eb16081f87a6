package schema

import (
	"database/sql"
	"fmt"
	"strings"
)

// InMemory are the rule tables the plugin reads whole into memory (regex
// patterns, address rewrites, blocked answer addresses) or asks only
// whether they hold a row at all (aliases), rather than probing by name.
var InMemory = []Table{BlockRegex, RewriteV4, RewriteV6, BlockIPv4, BlockIPv6, Alias}

// IsInMemory reports whether t is one of InMemory.
func IsInMemory(t Table) bool {
	for _, m := range InMemory {
		if m == t {
			return true
		}
	}
	return false
}

// InMemoryIndex is the partial index of the normalized layout's records
// that holds the rows of the InMemory tables only. Without it reading one
// of them scans every record (about 6 s at 10 M rows, a minute at 100 M),
// and the plugin does that before it is ready and after every change; the
// rows it indexes are few, so it costs next to nothing.
const InMemoryIndex = "records_in_memory"

// InMemoryTerm is the index's WHERE term. A query uses a partial index only
// when its own WHERE holds the same term, so a query of one of these record
// types repeats it (InMemoryWhere).
var InMemoryTerm = func() string {
	types := make([]string, len(InMemory))
	for i, t := range InMemory {
		types[i] = "'" + t.RecordType() + "'"
	}
	return "record_type IN (" + strings.Join(types, ", ") + ")"
}()

// inMemoryIndexDDL creates the index.
var inMemoryIndexDDL = fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON records (record_type) WHERE %s;\n", InMemoryIndex, InMemoryTerm)

// InMemoryWhere is the WHERE clause that selects table t's rows of records
// (aliased r) through the index.
func InMemoryWhere(t Table) string {
	return fmt.Sprintf("r.%s AND r.record_type = '%s'", InMemoryTerm, t.RecordType())
}

// HasInMemoryIndexQuery returns one row: 1 when the index exists, else 0.
const HasInMemoryIndexQuery = `SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = '` + InMemoryIndex + `'`

// addInMemoryIndex creates the index in a normalized database that lacks it
// (one made before it existed), reporting whether it did. It reads every
// record once.
func addInMemoryIndex(db *sql.DB) (bool, error) {
	l, err := Detect(db)
	if err != nil || l != Normalized {
		return false, err
	}
	var n int
	if err := db.QueryRow(HasInMemoryIndexQuery).Scan(&n); err != nil || n > 0 {
		return false, err
	}
	if _, err := db.Exec(inMemoryIndexDDL); err != nil {
		return false, fmt.Errorf("index the in-memory rules: %w", err)
	}
	return true, nil
}
