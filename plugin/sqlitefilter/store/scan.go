package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// Scan calls fn with the key, target (empty for key-only tables) and lists of
// at most limit rows of table t, in key order, from one snapshot, and reports
// whether the table holds more rows than that. A missing table, or one
// dropped since the store opened, has no rows.
// It is for the small tables loaded in memory (regex patterns, address
// rewrites), never for the name tables.
func (s *Store) Scan(t schema.Table, limit int, fn func(key, target string, lists policy.Lists)) (more bool, err error) {
	if !s.present[t] {
		return false, nil
	}
	target := "NULL"
	if t.TargetColumn() != "" {
		target = t.TargetColumn()
	}
	q := fmt.Sprintf("SELECT %s, %s, %s FROM %s LIMIT ?", t.KeyColumn(), target, listsExpr(s.lists[t]), t.Name())
	if s.layout == schema.Normalized {
		// records, not the legacy view: the view has no lists column, and
		// its WHERE does not name the index of the in-memory rules.
		m := "1"
		if s.lists[t] {
			m = "r." + schema.ListsColumn
		}
		where := fmt.Sprintf("r.record_type = '%s'", t.RecordType())
		if schema.IsInMemory(t) {
			where = schema.InMemoryWhere(t)
		}
		q = fmt.Sprintf("SELECT d.domain, r.target_value, %s FROM records r JOIN domains d ON d.domain_id = r.domain_id WHERE %s LIMIT ?", m, where)
	}
	c, ok := s.conns.get()
	if !ok {
		return false, ErrClosed
	}
	defer s.release(c)
	if err := s.renew(c); err != nil {
		return false, err
	}
	rows, err := c.c.QueryContext(context.Background(), q, []driver.NamedValue{{Ordinal: 1, Value: int64(limit) + 1}})
	if err != nil {
		if s.dropped(err) {
			return false, nil // a table dropped since the store opened is empty
		}
		return false, fmt.Errorf("scan %s: %w", t.Name(), err)
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	for n := 0; ; n++ {
		err := rows.Next(dest)
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("scan %s: %w", t.Name(), err)
		}
		if n == limit {
			return true, nil
		}
		fn(text(dest[0]), text(dest[1]), listsOf(dest[2], s.coded))
	}
}

// ListTables reports whether the database has the lists and groups tables.
func (s *Store) ListTables() bool { return s.listTables }

// ScanListTable calls fn with the columns cols (SQL made by the caller from
// schema constants) of every row of table, one of the lists and groups
// tables, from one snapshot; a value is its text, "" for NULL. It reads
// nothing from a database without those tables, or with a table dropped
// since the store opened.
func (s *Store) ScanListTable(table, cols string, fn func(vals []string)) error {
	if !s.listTables {
		return nil
	}
	c, ok := s.conns.get()
	if !ok {
		return ErrClosed
	}
	defer s.release(c)
	if err := s.renew(c); err != nil {
		return err
	}
	rows, err := c.c.QueryContext(context.Background(), fmt.Sprintf("SELECT %s FROM %s", cols, table), nil)
	if err != nil {
		if s.dropped(err) {
			return nil
		}
		return fmt.Errorf("scan %s: %w", table, err)
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	vals := make([]string, len(dest))
	for {
		err := rows.Next(dest)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("scan %s: %w", table, err)
		}
		for i, v := range dest {
			vals[i] = text(v)
		}
		fn(vals)
	}
}
