package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// conn is one pooled connection and its prepared statements.
type conn struct {
	c     *sqlite3.SQLiteConn
	has   [schema.NumTables]*sqlite3.SQLiteStmt
	alias *sqlite3.SQLiteStmt // domain_alias target lookup, prepared on first use (store_alias.go)
	args  []driver.NamedValue
	dest  []driver.Value
	dest2 []driver.Value // for the alias lookup's two columns
	gen   uint64         // generation of the snapshot this connection holds
	coded bool           // the lists column holds codes (Store.coded)
	inTxn bool
	began time.Time // when the read transaction began
}

func openConn(path string, busyMS int, replica bool) (*sqlite3.SQLiteConn, error) {
	// mode=ro: the plugin never writes. _mutex=no: a pooled connection is used
	// by one goroutine at a time, so SQLite's own mutex is pure cost.
	dsn := fmt.Sprintf("file:%s?mode=ro&cache=private&_mutex=no&_busy_timeout=%d", (&url.URL{Path: path}).EscapedPath(), busyMS)
	dc, err := (&sqlite3.SQLiteDriver{}).Open(dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	c := dc.(*sqlite3.SQLiteConn)
	// No memory map: a page read through one from a file that was cut
	// short in place (a copy over it, a full disk) raises SIGBUS inside
	// SQLite, which kills the whole server; read(2) returns an error that
	// on_error handles. The map made SQLite-only probes up to ~40 % faster
	// (test/bench/README.md), which the verdict cache and the Bloom filter
	// mostly hide.
	if _, err := c.Exec("PRAGMA mmap_size=0", nil); err != nil {
		c.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// A Litestream replica changes under the connections without telling
	// SQLite (replica.go): no page may outlive its read transaction.
	if replica {
		if _, err := c.Exec("PRAGMA cache_size=0", nil); err != nil {
			c.Close()
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	return c, nil
}

func (s *Store) newConn(busyMS int) (*conn, error) {
	sc, err := openConn(s.path, busyMS, s.replica)
	if err != nil {
		return nil, err
	}
	c := &conn{c: sc, args: make([]driver.NamedValue, 1), dest: make([]driver.Value, 1), dest2: make([]driver.Value, 2), coded: s.coded}
	c.args[0].Ordinal = 1
	for _, t := range schema.Tables {
		if !s.present[t] {
			continue
		}
		q := lookupQuery(s.layout, t, s.lists[t])
		st, err := sc.Prepare(q)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("open %s: prepare %q: %w", s.path, q, err)
		}
		c.has[t] = st.(*sqlite3.SQLiteStmt)
	}
	return c, nil
}

func (c *conn) close() {
	for _, st := range c.has {
		if st != nil {
			st.Close()
		}
	}
	if c.alias != nil {
		c.alias.Close()
	}
	c.c.Close()
}

func (c *conn) endTxn() error {
	if !c.inTxn {
		return nil
	}
	c.inTxn = false
	if _, err := c.c.Exec("COMMIT", nil); err != nil {
		return fmt.Errorf("end read: %w", err)
	}
	return nil
}

// lists returns the lists of table t's row keyed by key, none when there is
// no row. A table dropped since the store opened holds nothing.
func (src lent) lists(t schema.Table, key string) (policy.Lists, error) {
	st := src.c.has[t]
	if st == nil {
		return 0, nil
	}
	m, err := src.c.probe(st, key)
	if err != nil && src.s.dropped(err) {
		return 0, nil
	}
	return m, err
}

// probe runs a prepared one-row probe that returns the row's lists.
// context.Background keeps the driver from starting a cancellation
// goroutine per statement.
func (c *conn) probe(st *sqlite3.SQLiteStmt, key string) (policy.Lists, error) {
	c.args[0].Value = key
	rows, err := st.QueryContext(context.Background(), c.args)
	if err != nil {
		return 0, err
	}
	err = rows.Next(c.dest)
	if cerr := rows.Close(); err == nil || err == io.EOF {
		if cerr != nil {
			return 0, cerr
		}
	}
	switch err {
	case nil:
		return listsOf(c.dest[0], c.coded), nil
	case io.EOF:
		return 0, nil
	default:
		return 0, err
	}
}

// listsOf reads a row's lists as the driver returns the lists column: a
// code (schema.DecodeLists) when coded, else a plain mask. A row is in at
// least one list; a value that is not a whole number (written by hand)
// counts as `default`, so the row is never lost.
func listsOf(v driver.Value, coded bool) policy.Lists {
	n, ok := v.(int64)
	if !ok || n == 0 {
		return policy.DefaultLists
	}
	if coded {
		return policy.Lists(schema.DecodeLists(n))
	}
	return policy.Lists(uint64(n))
}

// listsCoded reports whether the file's lists column holds codes: whether
// it records schema.ListCodesVersion or later. A file that moves to it
// changes its schema too (schema.Upgrade), so the store is opened anew.
func listsCoded(c *sqlite3.SQLiteConn) (bool, error) {
	n, err := QueryInt(c, schema.HasMetaQuery)
	if err != nil || n == 0 {
		return false, err
	}
	v, err := QueryInt(c, schema.VersionQuery)
	if err != nil {
		return false, fmt.Errorf("read the schema version: %w", err)
	}
	return v >= schema.ListCodesVersion, nil
}

// dropped reports whether err says a table the store prepared statements for
// is gone, and marks the schema changed so that the store is opened anew.
func (s *Store) dropped(err error) bool {
	var se sqlite3.Error
	if !errors.As(err, &se) || se.Code != sqlite3.ErrError || !strings.Contains(se.Error(), "no such table") {
		return false
	}
	s.schemaChanged.Store(true)
	return true
}
