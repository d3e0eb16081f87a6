package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// defaultBatch is how many rows go into one transaction (import --batch).
// Names arrive in random key order, so a batch dirties pages all over the
// b-tree and each commit writes them all to the WAL: at 10 M rows, batches
// of 50 000 imported 4.2 M rows/min and batches of 250 000 6.1 M
// (cmd/sqlitefilter/README.md). A killed import loses at most the batch in
// progress.
const defaultBatch = 250000

// writer adds and removes rows in either layout, in batched transactions. All
// values are bound parameters; table and column names come from schema.
type writer struct {
	db      *database
	batch   int // rows per transaction
	tx      *sql.Tx
	pending int   // rows written in tx
	added   int64 // rows added in tx
	// committed counts the rows added by the transactions committed so far.
	committed int64
	stmts     map[string]*sql.Stmt // by SQL text, prepared within tx
	addSQL    [schema.NumTables]string
	// list is the mask of the list the rows added join: the list of import
	// --list, else `default` (on a database with lists; one without has
	// every row in `default` anyway). A new row stores its code.
	list int64
}

func newWriter(db *database, batch int) *writer {
	return &writer{db: db, batch: batch, stmts: map[string]*sql.Stmt{}, list: 1}
}

// joinListSQL is the upsert action that puts the row already there in the
// list of the mask ?5 as well, when it is not in it: the stored code
// decoded, the bit added, the result encoded (schema.EncodeLists). The WHERE
// keeps a row already in the list unchanged, so that the upsert reports no
// row added.
var joinListSQL = fmt.Sprintf("DO UPDATE SET %[1]s = %[2]s WHERE NOT %[3]s",
	schema.ListsColumn, schema.EncodeListsSQL(schema.DecodeListsSQL(schema.ListsColumn)+" | ?5"), schema.InListSQL(schema.ListsColumn, "?5"))

// txn returns the transaction in progress, beginning one if none is.
func (w *writer) txn() (*sql.Tx, error) {
	if w.tx == nil {
		tx, err := w.db.Begin()
		if err != nil {
			return nil, fmt.Errorf("begin: %w", err)
		}
		w.tx = tx
	}
	return w.tx, nil
}

func (w *writer) stmt(q string) (*sql.Stmt, error) {
	if st, ok := w.stmts[q]; ok {
		return st, nil
	}
	if _, err := w.txn(); err != nil {
		return nil, err
	}
	st, err := w.tx.Prepare(q)
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", q, err)
	}
	w.stmts[q] = st
	return st, nil
}

// add inserts e unless its key is already in its table, and reports whether
// it added a row. On a database with lists a key already there joins the
// writer's list (its target, if any, stays as it is: a name is stored once
// per table), and add reports whether it was not in that list before.
func (w *writer) add(e entry) (bool, error) {
	var n int64
	var err error
	if w.db.layout == schema.Normalized {
		n, err = w.addNormalized(e)
	} else {
		n, err = w.addPerType(e)
	}
	if err != nil {
		return false, fmt.Errorf("add %s %q: %w", e.table, e.key, err)
	}
	w.added += n
	return n > 0, w.tick()
}

func (w *writer) addPerType(e entry) (int64, error) {
	t := e.table
	if w.addSQL[t] == "" {
		switch {
		case w.db.lists:
			cols, vals := t.KeyColumn(), "?1"
			if t.TargetColumn() != "" {
				cols, vals = cols+", "+t.TargetColumn(), "?1, ?2"
			}
			w.addSQL[t] = fmt.Sprintf("INSERT INTO %s (%s, lists) VALUES (%s, ?3) ON CONFLICT %s",
				t.Name(), cols, vals, joinListSQL)
		case t.TargetColumn() == "":
			w.addSQL[t] = fmt.Sprintf("INSERT INTO %s (%s) VALUES (?) ON CONFLICT DO NOTHING", t.Name(), t.KeyColumn())
		default:
			w.addSQL[t] = fmt.Sprintf("INSERT INTO %s (%s, %s) VALUES (?, ?) ON CONFLICT DO NOTHING", t.Name(), t.KeyColumn(), t.TargetColumn())
		}
	}
	switch {
	case w.db.lists:
		var target any
		if t.TargetColumn() != "" {
			target = e.target
		}
		return w.exec(w.addSQL[t], e.key, target, w.code(), nil, w.list)
	case t.TargetColumn() == "":
		return w.exec(w.addSQL[t], e.key)
	}
	return w.exec(w.addSQL[t], e.key, e.target)
}

func (w *writer) addNormalized(e entry) (int64, error) {
	var target any
	if e.table.TargetColumn() != "" {
		target = e.target
	}
	st, err := w.stmt("INSERT INTO domains (domain) VALUES (?) ON CONFLICT (domain) DO NOTHING")
	if err != nil {
		return 0, err
	}
	res, err := st.Exec(e.key)
	if err != nil {
		return 0, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		// A new name: its id is known, so the rule goes in without looking
		// the name up again.
		id, err := res.LastInsertId()
		if err != nil {
			return 0, err
		}
		if w.db.lists {
			return w.exec(`INSERT INTO records (domain_id, record_type, target_value, lists) VALUES (?, ?, ?, ?)`, id, e.table.RecordType(), target, w.code())
		}
		return w.exec(`INSERT INTO records (domain_id, record_type, target_value) VALUES (?, ?, ?)`, id, e.table.RecordType(), target)
	}
	if w.db.lists {
		return w.exec(`INSERT INTO records (domain_id, record_type, target_value, lists)
			SELECT domain_id, ?1, ?2, ?3 FROM domains WHERE domain = ?4
			ON CONFLICT (domain_id, record_type) `+joinListSQL,
			e.table.RecordType(), target, w.code(), e.key, w.list)
	}
	return w.exec(`INSERT INTO records (domain_id, record_type, target_value)
		SELECT domain_id, ?, ? FROM domains WHERE domain = ? ON CONFLICT (domain_id, record_type) DO NOTHING`,
		e.table.RecordType(), target, e.key)
}

// code is the lists value of a row the writer adds.
func (w *writer) code() int64 { return schema.EncodeLists(uint64(w.list)) }

// remove deletes the row with key from t and reports whether there was one.
// On a normalized database it also drops the name from domains when no other
// rule uses it, as the legacy view's DELETE trigger does.
func (w *writer) remove(t schema.Table, key string) (bool, error) {
	var n int64
	var err error
	if w.db.layout == schema.Normalized {
		n, err = w.removeNormalized(t, key)
	} else {
		n, err = w.exec(fmt.Sprintf("DELETE FROM %s WHERE %s = ?", t.Name(), t.KeyColumn()), key)
	}
	if err != nil {
		return false, fmt.Errorf("remove %s %q: %w", t, key, err)
	}
	return n > 0, w.tick()
}

func (w *writer) removeNormalized(t schema.Table, key string) (int64, error) {
	n, err := w.exec("DELETE FROM records WHERE record_type = ? AND domain_id = (SELECT domain_id FROM domains WHERE domain = ?)", t.RecordType(), key)
	if err != nil || n == 0 {
		return n, err
	}
	_, err = w.exec("DELETE FROM domains WHERE domain = ? AND NOT EXISTS (SELECT 1 FROM records WHERE records.domain_id = domains.domain_id)", key)
	return n, err
}

func (w *writer) exec(q string, args ...any) (int64, error) {
	st, err := w.stmt(q)
	if err != nil {
		return 0, err
	}
	res, err := st.Exec(args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// tick commits once a batch is full.
func (w *writer) tick() error {
	w.pending++
	if w.pending < w.batch {
		return nil
	}
	return w.commit()
}

// commit ends the current transaction, if any.
func (w *writer) commit() error {
	if w.tx == nil {
		return nil
	}
	w.closeStmts()
	tx, added := w.tx, w.added
	w.tx, w.pending, w.added = nil, 0, 0
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	w.committed += added
	return nil
}

// rollback abandons the current batch.
func (w *writer) rollback() {
	w.closeStmts()
	if w.tx != nil {
		w.tx.Rollback()
		w.tx, w.pending, w.added = nil, 0, 0
	}
}

// closeStmts closes the statements prepared within the ending transaction.
func (w *writer) closeStmts() {
	for q, st := range w.stmts {
		st.Close()
		delete(w.stmts, q)
	}
}

// writeOne opens the database at path and makes one change (add or remove)
// in one transaction; it returns what change reported.
func writeOne(path string, change func(*writer) (bool, error)) (bool, error) {
	db, err := openDatabase(path)
	if err != nil {
		return false, err
	}
	defer db.Close()
	w := newWriter(db, 1)
	defer w.rollback()
	done, err := change(w)
	if err != nil {
		return false, err
	}
	if err := w.commit(); err != nil {
		return false, err
	}
	if err := keepKeyFilter(context.Background(), db, os.Stdout, keepStored); err != nil {
		return false, err
	}
	return done, db.Close()
}
