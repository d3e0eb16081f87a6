package store

import (
	"fmt"

	"github.com/mattn/go-sqlite3"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// detectLayout reads which layout the database has (schema.DetectQuery).
func detectLayout(c *sqlite3.SQLiteConn) (schema.Layout, error) {
	s, err := QueryString(c, schema.DetectQuery)
	if err != nil {
		return 0, fmt.Errorf("detect layout: %w", err)
	}
	return schema.ParseDetected(s)
}

// lookupQuery is the one-row probe for table t in layout l; it returns the
// row's lists mask, or 1 (`default`) when the table has no lists column
// (lists), so a probe is one statement either way. On a per-type
// database it reads the table; on a normalized one it goes to domains and
// records directly with a scalar subquery rather than through the legacy
// view: SQLite re-prepares the view's JOIN on every execution, and the
// subquery form measured ~2× faster. Both give
// the same answer as the view, so verdicts do not depend on the layout.
func lookupQuery(l schema.Layout, t schema.Table, lists bool) string {
	m := listsExpr(lists)
	if l == schema.Normalized {
		return fmt.Sprintf("SELECT %s FROM records WHERE domain_id = (SELECT domain_id FROM domains WHERE domain = ?) AND record_type = '%s' LIMIT 1", m, t.RecordType())
	}
	return fmt.Sprintf("SELECT %s FROM %s WHERE %s = ? LIMIT 1", m, t.Name(), t.KeyColumn())
}

// listsExpr is the lists column, or 1 (`default`) for a table without it.
func listsExpr(lists bool) string {
	if lists {
		return schema.ListsColumn
	}
	return "1"
}

// aliasQuery is the domain_alias target lookup for layout l, in the same
// scalar-subquery form as lookupQuery on a normalized database.
func aliasQuery(l schema.Layout, lists bool) string {
	m := listsExpr(lists)
	if l == schema.Normalized {
		return fmt.Sprintf("SELECT target_value, %s FROM records WHERE domain_id = (SELECT domain_id FROM domains WHERE domain = ?) AND record_type = '%s' LIMIT 1", m, schema.Alias.RecordType())
	}
	return fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s = ? LIMIT 1", schema.Alias.TargetColumn(), m, schema.Alias.Name(), schema.Alias.KeyColumn())
}

// Layout is the layout detected when the store opened.
func (s *Store) Layout() schema.Layout { return s.layout }
