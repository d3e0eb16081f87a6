package main

import (
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
}

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
	if err := leaveList(tx, db.layout, li.tables, li.bit); err != nil {
		return nil, err
	}
	return li, nil
}

// finishList deletes the rows in no list and commits.
func (j *importJob) finishList(li *listImport) error {
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
		q := fmt.Sprintf("SELECT count(*) FROM %s WHERE lists & ? != 0", t.Name())
		if li.w.db.layout == schema.Normalized {
			q = fmt.Sprintf("SELECT count(*) FROM records WHERE record_type = '%s' AND lists & ? != 0", t.RecordType())
		}
		var n int64
		if err := tx.QueryRow(q, li.bit).Scan(&n); err != nil {
			return err
		}
		in += n
	}
	if err := li.w.commit(); err != nil {
		return err
	}
	fmt.Fprintf(j.stdout, "list %s: %d rows; rows of the list no longer in the input left it, %d of them in no other list were deleted\n", li.name, in, gone)
	return nil
}
