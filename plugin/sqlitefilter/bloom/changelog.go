package bloom

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	"github.com/mattn/go-sqlite3"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// The change log keeps a built filter in step with inserts: triggers in the
// writer's own transaction log every inserted key (schema.ChangeLog), and
// the filter reads the entries it has not seen after every committed change.

// catchUp adds the keys logged since st.lastID and marks the filter complete
// for gen, which the caller read before calling: every commit that gen
// reflects is in the log by now. Called with k.mu held.
func (k *KeyFilter) catchUp(st *filterState, gen uint64) error {
	return st.store.WithWatcher(func(c *sqlite3.SQLiteConn) error { return k.readLog(c, st, gen) })
}

// readLog is catchUp on the watcher connection.
func (k *KeyFilter) readLog(c *sqlite3.SQLiteConn, st *filterState, gen uint64) (err error) {
	// One read transaction, so that the checks and the read see one state of
	// the log even while the writer trims it.
	if _, err := c.Exec("BEGIN", nil); err != nil {
		return fmt.Errorf("read change log: %w", err)
	}
	defer func() {
		if _, cerr := c.Exec("COMMIT", nil); err == nil && cerr != nil {
			err = fmt.Errorf("read change log: %w", cerr)
		}
	}()
	if err := addLogged(c, st); err != nil {
		return err
	}
	st.gen.Store(gen)
	return nil
}

// addLogged adds the keys logged after st.lastID to st's filter, inside a
// transaction of c.
func addLogged(c *sqlite3.SQLiteConn, st *filterState) error {
	seq, why, err := logCovers(c, st.lastID, st.schema)
	if err != nil {
		return err
	}
	if why != "" {
		return errors.New(why)
	}
	if seq > st.lastID {
		rows, err := c.QueryContext(context.Background(), "SELECT key FROM "+schema.ChangeLog+" WHERE id > ?1 AND id <= ?2",
			[]driver.NamedValue{{Ordinal: 1, Value: st.lastID}, {Ordinal: 2, Value: seq}})
		if err != nil {
			return fmt.Errorf("read change log: %w", err)
		}
		dest := make([]driver.Value, 1)
		for {
			if err = rows.Next(dest); err != nil {
				break
			}
			switch v := dest[0].(type) {
			case string:
				st.b.addString(v)
			case []byte:
				st.b.add(v)
			}
		}
		rows.Close()
		if err != io.EOF {
			return fmt.Errorf("read change log: %w", err)
		}
		st.lastID = seq
	}
	return nil
}

// hasChangeLog reports whether the database logs the keys of every filtered
// table of layout l that exists: the log table exists and every such table
// is a table (not a view) with both triggers.
func hasChangeLog(c *sqlite3.SQLiteConn, l schema.Layout) (bool, error) {
	n, err := store.QueryInt(c, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1", schema.ChangeLog)
	if err != nil || n == 0 {
		return false, err
	}
	for _, kc := range schema.FilterKeys(l) {
		kind, err := store.QueryString(c, "SELECT coalesce(max(type), '') FROM sqlite_schema WHERE name = ?", kc.Table)
		if err != nil {
			return false, err
		}
		switch kind {
		case "":
			continue // a missing table has no keys
		case "table":
		default:
			return false, nil
		}
		for _, trig := range schema.ChangeLogTriggers(kc.Table) {
			n, err := store.QueryInt(c, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name = ?1 AND tbl_name = ?2", trig, kc.Table)
			if err != nil || n == 0 {
				return false, err
			}
		}
	}
	return true, nil
}

// logCovers checks, inside a read transaction of c, that a filter holding
// the keys up to change-log id lastID under schema version schemaVer can
// be brought up to date from the log: the schema is still that version
// (a trigger dropped and created again around a bulk load changes it), and
// the log still holds every entry after lastID. It returns the log's last
// id, and why not ("" when it can).
func logCovers(c *sqlite3.SQLiteConn, lastID, schemaVer int64) (seq int64, why string, err error) {
	if v, err := store.QueryInt(c, "PRAGMA schema_version"); err != nil {
		return 0, "", fmt.Errorf("read change log: %w", err)
	} else if v != schemaVer {
		return 0, "the schema changed since it was written", nil
	}
	if seq, err = changeLogSeq(c); err != nil {
		return 0, "", err
	}
	switch {
	case seq < lastID:
		return seq, fmt.Sprintf("it holds change %d, past the log's last (%d): the log was reset", lastID, seq), nil
	case seq > lastID:
		lo, err := store.QueryInt(c, "SELECT coalesce(min(id), ?1 + 1) FROM "+schema.ChangeLog, seq)
		if err != nil {
			return 0, "", fmt.Errorf("read change log: %w", err)
		}
		if lo > lastID+1 {
			return seq, fmt.Sprintf("the change log no longer holds the %d changes written since", seq-lastID), nil
		}
	}
	return seq, "", nil
}

// changeLogSeq is the highest id the change log ever handed out.
func changeLogSeq(c *sqlite3.SQLiteConn) (int64, error) {
	n, err := store.QueryInt(c, "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = ?1", schema.ChangeLog)
	if err != nil {
		return 0, fmt.Errorf("read change log: %w", err)
	}
	return n, nil
}
