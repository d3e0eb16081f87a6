// Package store reads sqlitefilter databases: a Store is one file opened
// read-only as a pool of connections with the lookup statements prepared,
// following the changes committed to it; Shards and Router read a rule
// database split over several files as one.
package store

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/sqlitefile"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// Store is a pool of read-only connections to one database file, each with
// the lookup statements prepared once.
//
// In WAL mode every pooled connection keeps a read transaction open between
// lookups: SQLite then neither takes a lock nor checks the file for changes
// on each statement, which brings a lookup from ~10 µs to ~2 µs (close to
// immutable=1). The snapshot is renewed whenever Refresh sees that another
// connection committed (PRAGMA data_version), so a change is seen within one
// refresh interval, and idle connections give their snapshot back so the
// writer's checkpoints are never pinned for longer than that. In rollback
// journal mode a read transaction holds the file's shared lock, which a
// writer's commit waits for, so there a connection keeps its transaction
// across lendings for at most holdRead, and an idle one gives it back when
// that has passed: the file lock is taken and the file checked for changes
// about once per holdRead per connection rather than once per decision
// (each costs ~25 µs: BEGIN, the lock's system calls, COMMIT), and a writer
// waits for holdRead, plus the decision in progress, at most.
//
// A table created or dropped while the store is open changes the schema;
// Refresh notices it (SchemaChanged) so that the caller opens the file anew,
// and until then a dropped table reads as empty.
type Store struct {
	path string
	file os.FileInfo // the file as opened: a rename over path is a new file
	// sidecars are the -wal and -shm files last seen next to file (nil when
	// absent); only the watcher goroutine touches them.
	sidecars [2]os.FileInfo
	wal      atomic.Bool // WAL mode: connections hold their snapshot between lookups
	// replica: the file is kept by a Litestream follower (replica.go);
	// mark is what the follower had written when Refresh last looked.
	replica bool
	mark    replicaMark
	layout  schema.Layout
	present [schema.NumTables]bool // which tables exist
	lists   [schema.NumTables]bool // which have the lists column
	// coded: the lists column holds encoded masks (schema version 4 or
	// later); a version 3 file holds plain ones.
	coded bool
	// listTables: the database has the lists and groups tables.
	listTables bool
	// unindexed: a normalized file without schema.InMemoryIndex, where
	// reading the in-memory rules scans every record.
	unindexed bool

	conns   *connPool
	all     []*conn
	watcher *sqlite3.SQLiteConn // outside any transaction, for data_version
	// pages reads the file's pages beside SQLite (WithPages); opened after
	// the connections and closed after them (sqlitefile.File says why).
	// pagesErr says why it is nil.
	pages    *sqlitefile.File
	pagesErr error

	id            uint64        // Options.ID
	gen           atomic.Uint64 // bumped on every committed change
	dataVersion   int64         // last PRAGMA data_version seen by watcher
	schemaVersion int64         // PRAGMA schema_version when opened
	schemaChanged atomic.Bool   // a table was created or dropped since
	expiring      atomic.Bool   // expireIdle is due (rollback journal)
	mu            sync.Mutex    // serialises Refresh and Close
	closed        bool
}

// Options tune how a Store opens its database.
type Options struct {
	Pool          int // connections; at least 1
	BusyTimeoutMS int // how long a lookup waits for a writer's lock
	// Generation is the store's first generation. A store that replaces
	// another starts after the old one's, so that state keyed on the
	// generation never takes the new file's data for the old file's.
	Generation uint64
	// ID names the store to its opener (ID), which gives each store it
	// opens another: state keyed on it (a verdict cache) then holds a
	// number, where a pointer would be for the garbage collector to scan.
	ID uint64
}

// Open opens path read-only with a pool of connections. It fails when the
// file does not exist, is not a SQLite database, or cannot be read.
func Open(path string, opts Options) (*Store, error) {
	if opts.Pool < 1 {
		return nil, fmt.Errorf("open %s: pool must be at least 1, got %d", path, opts.Pool)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{path: path, file: fi, conns: newConnPool(opts.Pool), replica: IsReplica(path)}
	s.gen.Store(opts.Generation)
	s.id = opts.ID
	if s.replica {
		// Taken before anything is read, so that whatever the follower
		// applies from now on moves it.
		if s.mark, err = readReplicaMark(path); err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	if s.watcher, err = openConn(path, opts.BusyTimeoutMS, s.replica); err != nil {
		return nil, err
	}
	if err := s.inspect(); err != nil {
		s.watcher.Close()
		return nil, err
	}
	if s.replica && s.wal.Load() {
		s.watcher.Close()
		return nil, errReplicaWAL(path)
	}
	for range opts.Pool {
		c, err := s.newConn(opts.BusyTimeoutMS)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.all = append(s.all, c)
		s.conns.put(c)
	}
	// Had the file been replaced while the connections opened, some would
	// read one file and some the other, and the identity recorded would not
	// be the data's. Fail, and let the caller try again.
	if now, err := os.Stat(path); err != nil || !os.SameFile(fi, now) {
		s.Close()
		return nil, fmt.Errorf("open %s: the file was replaced while opening it", path)
	}
	s.noteSidecars()
	s.openPages()
	return s, nil
}

// openPages opens the page reader of the file the connections opened.
func (s *Store) openPages() {
	f, err := sqlitefile.Open(s.path)
	if err == nil && !os.SameFile(f.Info(), s.file) {
		f.Close()
		f, err = nil, fmt.Errorf("%s was replaced since it was opened", s.path)
	}
	s.pages, s.pagesErr = f, err
}

// WithPages runs fn as WithWatcher does, with the reader of the file's pages
// too: fn reads them consistently while it holds a read transaction of the
// watcher connection. It returns the reason there is no reader, if any,
// without calling fn.
func (s *Store) WithPages(fn func(*sqlite3.SQLiteConn, *sqlitefile.File) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.pages == nil {
		return s.pagesErr
	}
	return fn(s.watcher, s.pages)
}

// inspect reads the journal mode and which tables exist. It fails when the
// file is not a database.
func (s *Store) inspect() error {
	mode, err := QueryString(s.watcher, "PRAGMA journal_mode")
	if err != nil {
		return fmt.Errorf("open %s: %w", s.path, err)
	}
	s.wal.Store(mode == "wal")
	if s.layout, err = detectLayout(s.watcher); err != nil {
		return fmt.Errorf("open %s: %w", s.path, err)
	}
	for _, t := range schema.Tables {
		n, err := QueryInt(s.watcher, "SELECT count(*) FROM sqlite_schema WHERE type IN ('table','view') AND name = ?", t.Name())
		if err != nil {
			return fmt.Errorf("open %s: %w", s.path, err)
		}
		s.present[t] = n != 0
		tbl := t.Name()
		if s.layout == schema.Normalized {
			tbl = "records"
		}
		if n, err = QueryInt(s.watcher, schema.HasListsQuery, tbl); err != nil {
			return fmt.Errorf("open %s: %w", s.path, err)
		}
		s.lists[t] = n != 0
	}
	n, err := QueryInt(s.watcher, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN (?, ?, ?)", schema.ListsTable, schema.GroupsTable, schema.GroupClientsTable)
	if err != nil {
		return fmt.Errorf("open %s: %w", s.path, err)
	}
	s.listTables = n == 3
	if s.layout == schema.Normalized {
		if n, err = QueryInt(s.watcher, schema.HasInMemoryIndexQuery); err != nil {
			return fmt.Errorf("open %s: %w", s.path, err)
		}
		s.unindexed = n == 0
	}
	if s.coded, err = listsCoded(s.watcher); err != nil {
		return fmt.Errorf("open %s: %w", s.path, err)
	}
	if s.dataVersion, err = QueryInt(s.watcher, "PRAGMA data_version"); err != nil {
		return fmt.Errorf("open %s: %w", s.path, err)
	}
	if s.schemaVersion, err = QueryInt(s.watcher, "PRAGMA schema_version"); err != nil {
		return fmt.Errorf("open %s: %w", s.path, err)
	}
	return nil
}

// Replaced reports whether path now names another file than the one the
// store opened (renamed over it, or deleted and created anew). It returns
// the error of os.Stat when path names no file at all.
func (s *Store) Replaced() (bool, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return false, err
	}
	if !os.SameFile(s.file, fi) {
		return true, nil
	}
	s.noteSidecars()
	return false, nil
}

var sidecarSuffixes = [2]string{"-wal", "-shm"}

func (s *Store) noteSidecars() {
	for i, suffix := range sidecarSuffixes {
		s.sidecars[i], _ = os.Stat(s.path + suffix)
	}
}

// LeftSidecar returns the name of a -wal or -shm file that belonged to the
// store's file and is still in place after another file was renamed over it,
// or "" if there is none. SQLite pairs a database with these files by name
// only: opened with the new file, the old -wal's pages would be read as the
// new file's, and the old -shm, which this store's connections still map,
// would be reset under them.
func (s *Store) LeftSidecar() string {
	for i, suffix := range sidecarSuffixes {
		fi, err := os.Stat(s.path + suffix)
		if err == nil && s.sidecars[i] != nil && os.SameFile(fi, s.sidecars[i]) {
			return s.path + suffix
		}
	}
	return ""
}

// Missing lists the rule tables the database does not have.
func (s *Store) Missing() []schema.Table {
	var out []schema.Table
	for _, t := range schema.Tables {
		if !s.present[t] {
			out = append(out, t)
		}
	}
	return out
}

// ErrClosed is returned by lookups on a closed store.
var ErrClosed = errors.New("sqlitefilter: store closed")

// ErrNotOpen is the error of a lookup in a shard whose file was never opened.
var ErrNotOpen = errors.New("sqlitefilter: database not open")

// renew gives a connection just taken from the pool a snapshot of the
// current generation: the one it holds when that is still current (WAL), or
// a read transaction that ends when it is given back (rollback journal).
func (s *Store) renew(c *conn) error {
	gen := s.gen.Load()
	if s.fresh(c, gen) {
		return nil
	}
	if err := c.endTxn(); err != nil {
		return err
	}
	// BEGIN is deferred: the file lock is taken by the first statement,
	// which waits for a writer within busy_timeout.
	if _, err := c.c.Exec("BEGIN", nil); err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	c.inTxn, c.gen, c.began = true, gen, time.Now()
	return nil
}

// holdRead is how long a connection keeps a read transaction, and so the
// file's shared lock, in rollback-journal mode: what a writer's commit may
// wait for. Under load a connection is lent every few tens of
// microseconds, so the lock's cost is shared by dozens of decisions.
const holdRead = 2 * time.Millisecond

// fresh reports whether c's transaction may serve another lending at
// generation gen.
func (s *Store) fresh(c *conn, gen uint64) bool {
	return c.inTxn && c.gen == gen && (s.wal.Load() || time.Since(c.began) < holdRead)
}

// release gives a connection back to the pool. In rollback-journal mode a
// transaction older than holdRead ends now, and a younger one is ended by
// expireIdle if the connection stays idle. An error ending it leaves the
// transaction to be ended by the next renew.
func (s *Store) release(c *conn) {
	if c.inTxn && !s.wal.Load() {
		if time.Since(c.began) >= holdRead {
			c.endTxn()
		} else {
			s.armExpiry()
		}
	}
	s.conns.put(c)
}

// armExpiry makes sure expireIdle runs within holdRead.
func (s *Store) armExpiry() {
	if s.expiring.CompareAndSwap(false, true) {
		time.AfterFunc(holdRead, s.expireIdle)
	}
}

// expireIdle ends the transactions idle connections have held for holdRead
// (rollback journal), and comes back for the younger ones.
func (s *Store) expireIdle() {
	s.expiring.Store(false)
	again := false
	s.conns.eachIdle(func(c *conn) {
		switch {
		case !c.inTxn:
		case s.wal.Load() || time.Since(c.began) < holdRead:
			again = !s.wal.Load()
		default:
			c.endTxn()
		}
	})
	if again {
		s.armExpiry()
	}
}

// Refresh checks whether another connection committed since the last call and,
// if so, starts a new generation: pooled connections renew their snapshot
// before their next lookup, and idle ones release theirs now. It reports
// whether the data changed. On a Litestream replica, whatever the follower
// wrote counts as a committed change.
func (s *Store) Refresh() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, ErrClosed
	}
	moved := false
	if s.replica {
		// Read before the data, as at Open: a transaction applied after
		// this moves the mark again and is taken up at the next call.
		m, err := readReplicaMark(s.path)
		if err != nil {
			return false, fmt.Errorf("check %s for changes: %w", s.path, err)
		}
		moved = s.mark.moved(m)
		s.mark = m
	}
	dv, err := QueryInt(s.watcher, "PRAGMA data_version")
	if err != nil {
		return false, fmt.Errorf("check %s for changes: %w", s.path, err)
	}
	if dv == s.dataVersion && !moved {
		return false, nil
	}
	s.dataVersion = dv
	if sv, err := QueryInt(s.watcher, "PRAGMA schema_version"); err == nil && sv != s.schemaVersion {
		// The statements, the tables known and how the lists column reads
		// (coded) are the old schema's: in WAL mode the connections keep
		// the snapshot they hold, which they read right, until the file is
		// opened anew (SchemaChanged), rather than renew it.
		s.schemaChanged.Store(true)
		return true, nil
	}
	// The journal mode may have changed with the data: a file swapped in
	// with --replace is in rollback-journal mode until the operator turns
	// it to WAL, and lookups get fast from then on without a reopen.
	if mode, err := QueryString(s.watcher, "PRAGMA journal_mode"); err == nil {
		s.wal.Store(mode == "wal")
	}
	s.gen.Add(1)
	s.releaseIdle()
	return true, nil
}

// SchemaChanged reports whether a table was created or dropped (or the
// schema otherwise changed, as when schema.Upgrade encodes the lists) since
// the store opened: its statements and the tables it knows of are those of
// the old schema, and the file should be opened anew.
func (s *Store) SchemaChanged() bool { return s.schemaChanged.Load() }

// Generation identifies the data a lookup sees; it changes with every
// committed change that Refresh noticed.
func (s *Store) Generation() uint64 { return s.gen.Load() }

// ID is the Options.ID the store was opened with.
func (s *Store) ID() uint64 { return s.id }

// Renumber raises the generation to at least gen, as if changes were
// noticed: the store that replaces another (a file swapped in) must start
// past the last generation of the one it replaces, which kept serving while
// the new one was prepared, so that no generation is seen twice. It is for
// a store no lookup uses yet. It reports the generation before.
func (s *Store) Renumber(gen uint64) uint64 {
	for {
		g := s.gen.Load()
		if g >= gen || s.gen.CompareAndSwap(g, gen) {
			return g
		}
	}
}

// SameFile reports whether s and o read the same file (the same inode),
// whatever its name.
func (s *Store) SameFile(o *Store) bool { return os.SameFile(s.file, o.file) }

// releaseIdle ends the read transaction of every idle connection, so that no
// old snapshot pins the WAL while the pool is quiet.
func (s *Store) releaseIdle() {
	s.conns.eachIdle(func(c *conn) { c.endTxn() })
}

// Close waits for every connection to come back to the pool and closes them.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for range s.all {
		c, _ := s.conns.get()
		c.endTxn()
		c.close()
	}
	s.conns.close()
	err := s.watcher.Close()
	if s.pages != nil {
		s.pages.Close()
	}
	return err
}

// Unindexed reports whether the file is of the normalized layout and lacks
// the index of its in-memory rules (schema.InMemoryIndex), so that reading
// them scans every record.
func (s *Store) Unindexed() bool { return s.unindexed }

// Path is the file the store opened.
func (s *Store) Path() string { return s.path }

// Present reports whether the database has table t (a table or a view).
func (s *Store) Present(t schema.Table) bool { return s.present[t] }

// WithWatcher runs fn on the store's own connection, which is outside the
// pool and outside any transaction, under the lock Refresh takes (as
// TableRows does): background readers such as a key filter's build need no
// connection of their own.
func (s *Store) WithWatcher(fn func(*sqlite3.SQLiteConn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return fn(s.watcher)
}
