package schema

import (
	"context"
	"database/sql"
	"fmt"
)

// Verify compares every rule table of the databases at a and b row for row,
// through the per-type names (tables or legacy views), in key order. It
// returns an error naming the first difference.
func Verify(a, b string) error { return VerifyContext(context.Background(), a, b) }

// VerifyContext is Verify that stops, with ctx's error, when ctx is done.
func VerifyContext(ctx context.Context, a, b string) error {
	dbA, err := sql.Open("sqlite3", DSN(a, "mode=ro"))
	if err != nil {
		return err
	}
	defer dbA.Close()
	dbB, err := sql.Open("sqlite3", DSN(b, "mode=ro"))
	if err != nil {
		return err
	}
	defer dbB.Close()
	layoutA, err := Detect(dbA)
	if err != nil {
		return fmt.Errorf("verify %s: %w", a, err)
	}
	layoutB, err := Detect(dbB)
	if err != nil {
		return fmt.Errorf("verify %s: %w", b, err)
	}
	listsA, err := ListsCodingOf(dbA)
	if err != nil {
		return fmt.Errorf("verify %s: %w", a, err)
	}
	listsB, err := ListsCodingOf(dbB)
	if err != nil {
		return fmt.Errorf("verify %s: %w", b, err)
	}
	presentA, err := Present(dbA)
	if err != nil {
		return fmt.Errorf("verify %s: %w", a, err)
	}
	presentB, err := Present(dbB)
	if err != nil {
		return fmt.Errorf("verify %s: %w", b, err)
	}
	for _, t := range Tables {
		if !presentA[t] && !presentB[t] {
			continue
		}
		// Masks, not codes: a version 3 file and its copy at version 4
		// hold the same lists in different values.
		qa := rowsSelect("main", t, layoutA, listsA, PlainLists) + " ORDER BY k COLLATE BINARY"
		qb := rowsSelect("main", t, layoutB, listsB, PlainLists) + " ORDER BY k COLLATE BINARY"
		if err := verifyTable(ctx, dbA, dbB, qa, qb, presentA[t], presentB[t]); err != nil {
			return fmt.Errorf("verify %s: %w", t, err)
		}
	}
	return nil
}

// verifyTable walks both tables (qa and qb, rowsSelect in key order) in the
// same order and compares each row, its lists included. A missing table
// reads as empty.
func verifyTable(ctx context.Context, dbA, dbB *sql.DB, qa, qb string, hasA, hasB bool) error {
	ra, err := openRows(ctx, dbA, qa, hasA)
	if err != nil {
		return err
	}
	defer ra.close()
	rb, err := openRows(ctx, dbB, qb, hasB)
	if err != nil {
		return err
	}
	defer rb.close()
	for n := 1; ; n++ {
		okA, okB := ra.next(), rb.next()
		if ra.err != nil {
			return ra.err
		}
		if rb.err != nil {
			return rb.err
		}
		switch {
		case !okA && !okB:
			return nil
		case !okA:
			return fmt.Errorf("%w: row %d (%q) only in the second", errMismatch, n, rb.key)
		case !okB:
			return fmt.Errorf("%w: row %d (%q) only in the first", errMismatch, n, ra.key)
		case ra.key != rb.key || ra.target != rb.target:
			return fmt.Errorf("%w: row %d is (%q, %v) in the first and (%q, %v) in the second", errMismatch, n, ra.key, ra.target, rb.key, rb.target)
		case ra.lists != rb.lists:
			return fmt.Errorf("%w: row %d (%q) is in lists %#x in the first and %#x in the second", errMismatch, n, ra.key, uint64(ra.lists), uint64(rb.lists))
		}
	}
}

// rowStream reads (key, target, lists) rows; a nil rows reads as empty.
type rowStream struct {
	rows   *sql.Rows
	key    string
	target sql.NullString
	lists  int64
	err    error
}

func openRows(ctx context.Context, db *sql.DB, q string, present bool) (*rowStream, error) {
	if !present {
		return &rowStream{}, nil
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return &rowStream{rows: rows}, nil
}

func (r *rowStream) next() bool {
	if r.rows == nil || !r.rows.Next() {
		if r.rows != nil {
			r.err = r.rows.Err()
		}
		return false
	}
	r.err = r.rows.Scan(&r.key, &r.target, &r.lists)
	return r.err == nil
}

func (r *rowStream) close() {
	if r.rows != nil {
		r.rows.Close()
	}
}
