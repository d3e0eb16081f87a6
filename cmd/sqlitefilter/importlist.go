package main

import (
	"database/sql"
	"fmt"
	"math"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// listImport is an import --list in progress: one transaction that first
// takes the list out of every row of the tables the import writes, then
// adds the input's rows to it, then deletes the rows left in no list. So a
// name no longer in the source leaves the list (and the database, when no
// other list holds it), the other lists' memberships stay, and a reader
// sees the old list or the new one, never a mix.
type listImport struct {
	w      *writer
	name   string
	bit    int64
	tables []schema.Table
	// before is how many rows were in the list, in tables, when it began;
	// counted (and the keys kept in oldKeysTable) only for an onList hook,
	// which is told what changed.
	before int64
}

// listChange is what a list import changed in the list: rows that joined
// it, rows that left it, and the rows in it afterwards.
type listChange struct {
	added, removed, rows int64
}

// listHook runs in a list import's transaction once the rows are in, with
// the input's totals and what changed; an error it returns rolls the whole
// import back, so the list keeps its old rows.
type listHook func(tx *sql.Tx, total *counts, change listChange) error

// oldKeysTable holds, for a list import with a hook, the keys the list had
// before (per table), so that the rows that left it can be counted: taking
// the list out of every row first leaves nothing else to tell them by.
const oldKeysTable = "temp.sqlitefilter_old_keys"

func (j *importJob) beginList(db *database, parsers []parser) (*listImport, error) {
	id, err := listID(db, j.list)
	if err != nil {
		return nil, err
	}
	if _, err := upgrade(db); err != nil {
		return nil, err
	}
	db.lists = true
	li := &listImport{w: newWriter(db, math.MaxInt), name: j.list, bit: bit(id)}
	li.w.list = li.bit
	seen := map[schema.Table]bool{}
	for _, p := range parsers {
		for _, t := range j.written(p) {
			if !seen[t] {
				seen[t] = true
				li.tables = append(li.tables, t)
			}
		}
	}
	tx, err := li.w.txn()
	if err != nil {
		return nil, err
	}
	if j.onList != nil {
		if li.before, err = li.keepOldKeys(tx); err != nil {
			return nil, err
		}
	}
	if err := leaveList(tx, db.layout, li.tables, li.bit); err != nil {
		return nil, err
	}
	return li, nil
}

// keyQuery is a SELECT of (t, k): the record type and key of every row of
// table t in the list of mask ?1.
func keyQuery(l schema.Layout, t schema.Table) string {
	if l == schema.Normalized {
		return fmt.Sprintf("SELECT '%s', d.domain FROM records r JOIN domains d ON d.domain_id = r.domain_id WHERE r.record_type = '%s' AND %s",
			t.RecordType(), t.RecordType(), inList("r.lists"))
	}
	return fmt.Sprintf("SELECT '%s', %s FROM %s WHERE %s", t.RecordType(), t.KeyColumn(), t.Name(), inList("lists"))
}

// keepOldKeys copies the list's keys into oldKeysTable and returns how
// many there are.
func (li *listImport) keepOldKeys(tx *sql.Tx) (int64, error) {
	if _, err := tx.Exec("CREATE TEMP TABLE IF NOT EXISTS sqlitefilter_old_keys (t TEXT NOT NULL, k TEXT NOT NULL)"); err != nil {
		return 0, fmt.Errorf("keep the list's keys: %w", err)
	}
	if _, err := tx.Exec("DELETE FROM " + oldKeysTable); err != nil {
		return 0, fmt.Errorf("keep the list's keys: %w", err)
	}
	for _, t := range li.tables {
		if _, err := tx.Exec("INSERT INTO "+oldKeysTable+" (t, k) "+keyQuery(li.w.db.layout, t), li.bit); err != nil {
			if isNoSuchTable(err) {
				continue
			}
			return 0, fmt.Errorf("keep the keys of %s: %w", t, err)
		}
	}
	var n int64
	if err := tx.QueryRow("SELECT count(*) FROM " + oldKeysTable).Scan(&n); err != nil {
		return 0, fmt.Errorf("count the list's keys: %w", err)
	}
	return n, nil
}

// removed counts the keys of oldKeysTable that are no longer in the list.
func (li *listImport) removed(tx *sql.Tx) (int64, error) {
	var gone int64
	for _, t := range li.tables {
		in := fmt.Sprintf("SELECT 1 FROM %s x WHERE x.%s = o.k AND %s", t.Name(), t.KeyColumn(), inList("x.lists"))
		if li.w.db.layout == schema.Normalized {
			in = fmt.Sprintf("SELECT 1 FROM records r JOIN domains d ON d.domain_id = r.domain_id WHERE d.domain = o.k AND r.record_type = '%s' AND %s", t.RecordType(), inList("r.lists"))
		}
		q := fmt.Sprintf("SELECT count(*) FROM %s o WHERE o.t = '%s' AND NOT EXISTS (%s)", oldKeysTable, t.RecordType(), in)
		var n int64
		if err := tx.QueryRow(q, li.bit).Scan(&n); err != nil {
			if isNoSuchTable(err) {
				continue
			}
			return 0, fmt.Errorf("count the rows that left %s: %w", t, err)
		}
		gone += n
	}
	return gone, nil
}

// finishList deletes the rows in no list, runs the hook, if any, and
// commits.
func (j *importJob) finishList(li *listImport, total *counts) error {
	tx, err := li.w.txn()
	if err != nil {
		return err
	}
	gone, err := dropListless(tx, li.w.db.layout, li.tables)
	if err != nil {
		return err
	}
	var in int64
	for _, t := range li.tables {
		q := fmt.Sprintf("SELECT count(*) FROM %s WHERE %s", t.Name(), inList("lists"))
		if li.w.db.layout == schema.Normalized {
			q = fmt.Sprintf("SELECT count(*) FROM records WHERE record_type = '%s' AND %s", t.RecordType(), inList("lists"))
		}
		var n int64
		if err := tx.QueryRow(q, li.bit).Scan(&n); err != nil {
			return err
		}
		in += n
	}
	if j.onList != nil {
		removed, err := li.removed(tx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec("DROP TABLE " + oldKeysTable); err != nil {
			return fmt.Errorf("drop the list's old keys: %w", err)
		}
		ch := listChange{added: in - (li.before - removed), removed: removed, rows: in}
		if err := j.onList(tx, total, ch); err != nil {
			return err
		}
	}
	if err := li.w.commit(); err != nil {
		return err
	}
	fmt.Fprintf(j.stdout, "list %s: %d rows; rows of the list no longer in the input left it, %d of them in no other list were deleted\n", li.name, in, gone)
	return nil
}
