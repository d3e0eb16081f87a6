package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// rowCountCap bounds the count made for a table that ANALYZE never measured:
// counting stops there, so a billion-row table costs what a million-row one
// does, and the gauge then reads "at least the cap".
const rowCountCap = 1_000_000

// TableRows estimates the rows of every table the database has, without
// reading a large table whole: from sqlite_stat1 when ANALYZE measured the
// table (the figure is as old as the last ANALYZE), else by counting up to
// rowCountCap rows. It runs on the store's own connection, outside the pool,
// in autocommit, so lookups never wait for it.
func (s *Store) TableRows() (map[schema.Table]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.layout == schema.Normalized {
		return s.normalizedRows()
	}
	stat1, err := QueryInt(s.watcher, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat1'")
	if err != nil {
		return nil, fmt.Errorf("estimate rows of %s: %w", s.path, err)
	}
	rows := make(map[schema.Table]int64)
	for _, t := range schema.Tables {
		if !s.present[t] {
			continue
		}
		n, ok := int64(0), false
		if stat1 != 0 {
			if n, ok, err = s.analyzedRows(t); err != nil {
				return nil, err
			}
		}
		if !ok {
			if n, err = QueryInt(s.watcher, fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %s LIMIT %d)", t.Name(), rowCountCap)); err != nil {
				return nil, fmt.Errorf("estimate rows of %s in %s: %w", t, s.path, err)
			}
		}
		rows[t] = n
	}
	return rows, nil
}

// analyzedRows reads the row count ANALYZE recorded for table t: the first
// figure of each of its sqlite_stat1 rows is the number of entries of the
// table or of one of its indexes, which is the number of rows.
func (s *Store) analyzedRows(t schema.Table) (int64, bool, error) {
	v, err := QueryString(s.watcher, "SELECT coalesce(max(CAST(stat AS INTEGER)), -1) FROM sqlite_stat1 WHERE tbl = ?", t.Name())
	if err != nil {
		return 0, false, fmt.Errorf("estimate rows of %s in %s: %w", t, s.path, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, false, nil
	}
	return n, true, nil
}

// normalizedRows is TableRows for the normalized layout, whose rule tables
// are views over one records table: counting a view up to the cap would
// read every record for each type with fewer rows than the cap. It counts
// the types of the first rowCountCap records in one pass instead, and the
// in-memory types exactly through their index when the file has it.
func (s *Store) normalizedRows() (map[schema.Table]int64, error) {
	byType := map[string]int64{}
	count := func(q string) error {
		rows, err := s.watcher.QueryContext(context.Background(), q, nil)
		if err != nil {
			return fmt.Errorf("estimate rows of %s: %w", s.path, err)
		}
		defer rows.Close()
		dest := make([]driver.Value, 2)
		for {
			if err := rows.Next(dest); err == io.EOF {
				return nil
			} else if err != nil {
				return fmt.Errorf("estimate rows of %s: %w", s.path, err)
			}
			n, _ := dest[1].(int64)
			byType[text(dest[0])] = n
		}
	}
	if err := count(fmt.Sprintf("SELECT record_type, count(*) FROM (SELECT record_type FROM records LIMIT %d) GROUP BY 1", rowCountCap)); err != nil {
		return nil, err
	}
	if !s.unindexed {
		if err := count("SELECT r.record_type, count(*) FROM records r WHERE r." + schema.InMemoryTerm + " GROUP BY 1"); err != nil {
			return nil, err
		}
	}
	rows := make(map[schema.Table]int64)
	for _, t := range schema.Tables {
		if s.present[t] {
			rows[t] = byType[t.RecordType()]
		}
	}
	return rows, nil
}
