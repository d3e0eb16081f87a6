package bloom

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	"github.com/mattn/go-sqlite3"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/sqlitefile"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// pageChunk is how many pages one read transaction of the page scan walks
// (512 KiB at SQLite's default 4 KiB pages, ~12,000 keys, 2–3 ms on one
// core): a writer in rollback-journal mode waits for at most that, and so
// do queries on the core of a build that yields to them between chunks.
const pageChunk = 128

// pageScan reads the keys of one key column straight from the file's pages
// (package sqlitefile), which is several times faster than stepping through
// them in SQL. Each chunk is walked inside a read transaction of the
// watcher connection, which keeps writers from changing the pages it reads;
// between chunks a writer may commit, and then the walk cannot resume (any
// key may have moved): the scan goes on through SQL after the last key the
// pages gave, and the keys a commit adds meanwhile come from the change log
// as always.
type pageScan struct {
	cursor *sqlitefile.Cursor
	snap   *sqlitefile.Snapshot
	state  sqlitefile.State // of the snapshot the walk began in
	dv     int64            // PRAGMA data_version at the first chunk
	// resume is the last key of the last whole chunk: where SQL takes over.
	resume driver.Value
}

// scanPages adds the keys of t to b from the file's pages. It reports
// whether it read them all; when it did not, SQL must read the keys after
// the returned one (nil: all of them). A reason the pages could not be read
// is logged, not returned: SQL reads every file.
func (k *KeyFilter) scanPages(s *store.Store, t schema.KeyColumn, b *filter) (done bool, after driver.Value, err error) {
	p := &pageScan{}
	defer p.close()
	var batch hashBatch
	add := func(key []byte) { batch.add(b, key) }
	for tries := 0; ; {
		select {
		case <-k.stop:
			return false, nil, errStopped
		default:
		}
		first := p.cursor == nil
		if !k.pace.chunk() {
			return false, nil, errStopped
		}
		err = s.WithPages(func(c *sqlite3.SQLiteConn, f *sqlitefile.File) error {
			return p.chunk(c, f, t, first, add)
		})
		batch.flush(b)
		k.pace.done()
		if k.afterChunk != nil {
			k.afterChunk(t.Table)
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return true, nil, nil
		case first && errors.Is(err, sqlitefile.ErrMoved) && tries < 10:
			// A commit landed while the snapshot was taken: the next
			// moment is usually quiet.
			tries++
			p.cursor = nil
		default:
			k.log.Infof("%s: %s read through SQL after %s: %v", s.Path(), t.Table, describe(p.resume), err)
			return false, p.resume, nil
		}
	}
}

// describe names a resume point in a log line.
func describe(v driver.Value) string {
	if v == nil {
		return "no key"
	}
	return fmt.Sprintf("key %q", v)
}

var (
	// errChanged says a commit came between two chunks.
	errChanged = errors.New("the database changed during the scan")
	// errNoBTree says no b-tree of the file holds the keys in BINARY order.
	errNoBTree = errors.New("no b-tree begins with the key column in BINARY order")
)

// chunk walks the next pageChunk pages in one read transaction on c; io.EOF
// says the walk is done.
func (p *pageScan) chunk(c *sqlite3.SQLiteConn, f *sqlitefile.File, t schema.KeyColumn, first bool, add func([]byte)) (err error) {
	before, err := f.State()
	if err != nil {
		return err
	}
	if _, err := c.ExecContext(context.Background(), "BEGIN", nil); err != nil {
		return err
	}
	defer func() {
		if _, cerr := c.ExecContext(context.Background(), "COMMIT", nil); cerr != nil && err == nil {
			err = cerr
		}
	}()
	// The first read of the transaction takes its snapshot (and, in
	// rollback-journal mode, the shared lock that keeps writers out).
	dv, err := store.QueryInt(c, "PRAGMA data_version")
	if err != nil {
		return err
	}
	now, err := f.State()
	if err != nil {
		return err
	}
	if first {
		root, ok, err := keyRoot(c, t)
		if err != nil {
			return err
		}
		if !ok {
			return errNoBTree
		}
		snap, err := f.Snapshot(before, now)
		if err != nil {
			return err
		}
		if p.snap != nil {
			p.snap.Close()
		}
		p.snap, p.cursor, p.state, p.dv = snap, sqlitefile.NewCursor(root), now, dv
	} else if dv != p.dv || !before.Same(p.state) || !now.Same(p.state) {
		return errChanged
	}
	done, err := p.cursor.Walk(p.snap, pageChunk, add)
	if err != nil {
		return err
	}
	if done {
		return io.EOF
	}
	if key, blob, ok := p.cursor.Last(); ok {
		p.resume = string(key)
		if blob {
			p.resume = append([]byte(nil), key...)
		}
	}
	return nil
}

func (p *pageScan) close() {
	if p.snap != nil {
		p.snap.Close()
	}
}

// keyRoot returns the root page of the b-tree whose records begin with the
// key column: the table itself when it is WITHOUT ROWID with the column as
// its primary key, else an index on the column first (not a partial one:
// it must hold every row). It reports false when the table has neither, or
// declares a collation: the walk's order must be the BINARY order SQL
// resumes in.
func keyRoot(c *sqlite3.SQLiteConn, t schema.KeyColumn) (uint32, bool, error) {
	collate, err := store.QueryInt(c, "SELECT count(*) FROM sqlite_schema WHERE tbl_name = ?1 AND sql LIKE '%COLLATE%'", t.Table)
	if err != nil || collate > 0 {
		return 0, false, err
	}
	root, err := store.QueryInt(c, `SELECT coalesce((
		SELECT s.rootpage FROM sqlite_schema s, pragma_table_list(s.name) l
		WHERE s.type = 'table' AND s.name = ?1 AND l.wr = 1
		AND (SELECT group_concat(name) FROM pragma_table_info(?1) WHERE pk > 0) = ?2
	), (
		SELECT s.rootpage FROM pragma_index_list(?1) il, pragma_index_info(il.name) ii, sqlite_schema s
		WHERE il.partial = 0 AND ii.seqno = 0 AND ii.name = ?2 AND s.name = il.name AND s.rootpage > 0
		LIMIT 1
	), 0)`, t.Table, t.Column)
	if err != nil {
		return 0, false, err
	}
	return uint32(root), root > 0, nil
}
