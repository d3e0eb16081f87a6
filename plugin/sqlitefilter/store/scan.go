package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// Scan calls fn with the key and target (empty for key-only tables) of at
// most limit rows of table t, in key order, from one snapshot, and reports
// whether the table holds more rows than that. A missing table, or one
// dropped since the store opened, has no rows.
// It is for the small tables loaded in memory (regex patterns, address
// rewrites), never for the name tables.
func (s *Store) Scan(t schema.Table, limit int, fn func(key, target string)) (more bool, err error) {
	if !s.present[t] {
		return false, nil
	}
	cols := t.KeyColumn()
	if t.TargetColumn() != "" {
		cols += ", " + t.TargetColumn()
	}
	q := fmt.Sprintf("SELECT %s FROM %s LIMIT ?", cols, t.Name())
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
		var target string
		if len(dest) > 1 {
			target = text(dest[1])
		}
		fn(text(dest[0]), target)
	}
}
