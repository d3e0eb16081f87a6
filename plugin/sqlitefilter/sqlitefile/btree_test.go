package sqlitefile

import (
	"bytes"
	"database/sql"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
)

// table is a database file with one key table, and what SQL reads of it.
type table struct {
	path string
	db   *sql.DB
	root string // the SQL that returns the key b-tree's root page
	keys string // the SQL that returns the keys in the b-tree's order
}

// newTable creates a database at a new path with the given PRAGMAs, runs ddl
// and inserts keys (strings as text, []byte as blobs) in one transaction.
func newTable(t *testing.T, pragmas []string, ddl string, keys []any) *table {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	for _, q := range append(pragmas, ddl) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	insert(t, db, keys)
	return &table{path: path, db: db,
		root: "SELECT rootpage FROM sqlite_schema WHERE name = 't'",
		keys: "SELECT k FROM t ORDER BY k"}
}

func insert(t *testing.T, db *sql.DB, keys []any) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if _, err := tx.Exec("INSERT INTO t (k) VALUES (?)", k); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// want is what SQL reads: every key, in order.
func (tb *table) want(t *testing.T) [][]byte {
	t.Helper()
	rows, err := tb.db.Query(tb.keys)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var k []byte
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

// read walks the key b-tree inside one read transaction of a second
// connection, as the key filter does, maxPages pages per Walk.
func (tb *table) read(t *testing.T, maxPages int) ([][]byte, error) {
	t.Helper()
	f, err := Open(tb.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rd, err := sql.Open("sqlite3", "file:"+tb.path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	before, err := f.State()
	if err != nil {
		return nil, err
	}
	tx, err := rd.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var root uint32
	if err := tx.QueryRow(tb.root).Scan(&root); err != nil {
		t.Fatal(err)
	}
	now, err := f.State()
	if err != nil {
		return nil, err
	}
	s, err := f.Snapshot(before, now)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var out [][]byte
	c := NewCursor(root)
	for {
		done, err := c.Walk(s, maxPages, func(k []byte) { out = append(out, bytes.Clone(k)) })
		if err != nil {
			return out, err
		}
		if done {
			return out, nil
		}
	}
}

func randomNames(n, seed int) []any {
	r := rand.New(rand.NewPCG(uint64(seed), 1))
	seen := map[string]bool{}
	var out []any
	for len(out) < n {
		var b strings.Builder
		for range 1 + r.IntN(4) {
			for range 1 + r.IntN(15) {
				b.WriteByte("abcdefghijklmnopqrstuvwxyz0123456789-"[r.IntN(37)])
			}
			b.WriteByte('.')
		}
		b.WriteString("test" + strconv.Itoa(seed))
		if k := b.String(); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

const keyTable = "CREATE TABLE t (k TEXT PRIMARY KEY NOT NULL, lists INTEGER NOT NULL DEFAULT 1) WITHOUT ROWID"

// TestWalkReadsWhatSQLReads: every key, in SQL's order, whatever the page
// size, the journal mode, the key's length (overflow pages) or type, and
// however many pages a call may read.
func TestWalkReadsWhatSQLReads(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) + ".test" }
	tests := []struct {
		name    string
		pragmas []string
		keys    []any
	}{
		{"empty", nil, nil},
		{"one", nil, []any{"a.test"}},
		{"rollback journal, 4 levels", []string{"PRAGMA page_size=512"}, randomNames(30000, 1)},
		{"default pages", nil, randomNames(50000, 2)},
		{"64 KiB pages", []string{"PRAGMA page_size=65536"}, randomNames(50000, 3)},
		{"WAL, checkpointed", []string{"PRAGMA journal_mode=WAL"}, randomNames(20000, 4)},
		{"overflow pages", []string{"PRAGMA page_size=1024"}, append(randomNames(3000, 5), long(400), long(1000), long(5000), long(70000), long(900))},
		{"text and blobs", nil, append(randomNames(2000, 6), []byte("blob.test"), []byte{0, 1, 2, 0xff}, "new\nline.test", "", "UPPER.Test")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTable(t, tc.pragmas, keyTable, tc.keys)
			want := tb.want(t)
			if len(want) != len(tc.keys) {
				t.Fatalf("SQL reads %d keys, %d inserted", len(want), len(tc.keys))
			}
			for _, pages := range []int{1, 3, 1 << 30} {
				tb.readsWhatSQLReads(t, pages)
			}
		})
	}
}

// readsWhatSQLReads checks that a walk of maxPages pages per call reads
// every key SQL reads, in its order.
func (tb *table) readsWhatSQLReads(t *testing.T, maxPages int) {
	t.Helper()
	want := tb.want(t)
	got, err := tb.read(t, maxPages)
	if err != nil {
		t.Fatalf("%d pages per call: %v", maxPages, err)
	}
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("%d pages per call: read %d keys, SQL %d; first difference at %d", maxPages, len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b [][]byte) int {
	for i := range min(len(a), len(b)) {
		if !bytes.Equal(a[i], b[i]) {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestWalkReadsTheLogsFrames: in WAL mode, the pages of commits not yet
// copied into the database file are read from the log, so inserts and
// deletes since the last checkpoint are seen as SQL sees them.
func TestWalkReadsTheLogsFrames(t *testing.T) {
	tb := newTable(t, []string{"PRAGMA journal_mode=WAL", "PRAGMA wal_autocheckpoint=0"}, keyTable, randomNames(20000, 8))
	// Read through a symbolic link: the log is named after the file it
	// leads to, as SQLite names it.
	link := filepath.Join(t.TempDir(), "link.db")
	if err := os.Symlink(tb.path, link); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	insert(t, tb.db, randomNames(5000, 9))
	if _, err := tb.db.Exec("DELETE FROM t WHERE k LIKE 'a%'"); err != nil {
		t.Fatal(err)
	}
	insert(t, tb.db, []any{"after.delete.test"})
	tb.path = link
	f, err := Open(tb.path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.State()
	f.Close()
	if err != nil || st.mxFrame == 0 || st.nBackfill != 0 {
		t.Fatalf("the log should hold frames no checkpoint copied: %+v %v", st, err)
	}
	tb.readsWhatSQLReads(t, 2)
}

// TestWalkReadsAnIndex: the normalized layout's names are in the UNIQUE
// index of domains, an index b-tree of (domain, rowid).
func TestWalkReadsAnIndex(t *testing.T) {
	tb := newTable(t, nil, "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE)", randomNames(20000, 10))
	tb.root = "SELECT rootpage FROM sqlite_schema WHERE type = 'index' AND tbl_name = 't'"
	tb.readsWhatSQLReads(t, 5)
}

// TestUnsupportedIsSaid: what only SQL reads right is ErrUnsupported, never
// a wrong key.
func TestUnsupportedIsSaid(t *testing.T) {
	t.Run("a rowid table", func(t *testing.T) {
		tb := newTable(t, nil, "CREATE TABLE t (k TEXT)", []any{"a.test"})
		if _, err := tb.read(t, 10); !errors.Is(err, ErrUnsupported) {
			t.Fatalf("got %v, want ErrUnsupported", err)
		}
	})
	t.Run("a key that is a number", func(t *testing.T) {
		tb := newTable(t, nil, "CREATE TABLE t (k PRIMARY KEY NOT NULL) WITHOUT ROWID", []any{"a.test", 42})
		if _, err := tb.read(t, 10); !errors.Is(err, ErrUnsupported) {
			t.Fatalf("got %v, want ErrUnsupported", err)
		}
	})
	t.Run("another collation", func(t *testing.T) {
		tb := newTable(t, nil, "CREATE TABLE t (k TEXT COLLATE NOCASE PRIMARY KEY NOT NULL) WITHOUT ROWID", []any{"B.test", "a.test"})
		if _, err := tb.read(t, 10); !errors.Is(err, ErrUnsupported) {
			t.Fatalf("got %v, want ErrUnsupported", err)
		}
	})
	t.Run("UTF-16 text", func(t *testing.T) {
		tb := newTable(t, []string{"PRAGMA encoding='UTF-16le'"}, keyTable, []any{"a.test"})
		if _, err := tb.read(t, 10); !errors.Is(err, ErrUnsupported) {
			t.Fatalf("got %v, want ErrUnsupported", err)
		}
	})
}

// TestSnapshotRefusesAMovedLog: a commit between the two reads of the log's
// index, which bracket the start of the read transaction, is ErrMoved.
func TestSnapshotRefusesAMovedLog(t *testing.T) {
	tb := newTable(t, []string{"PRAGMA journal_mode=WAL"}, keyTable, randomNames(100, 11))
	f, err := Open(tb.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before, err := f.State()
	if err != nil {
		t.Fatal(err)
	}
	insert(t, tb.db, []any{"moved.test"})
	now, err := f.State()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Snapshot(before, now); !errors.Is(err, ErrMoved) {
		t.Fatalf("got %v, want ErrMoved", err)
	}
	s, err := f.Snapshot(now, now)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestVarint(t *testing.T) {
	tests := []struct {
		in   []byte
		want uint64
		n    int
	}{
		{[]byte{0x00}, 0, 1},
		{[]byte{0x7f}, 127, 1},
		{[]byte{0x81, 0x00}, 128, 2},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 1<<64 - 1, 9},
		{[]byte{0x81}, 0, 0},
	}
	for _, tc := range tests {
		if v, n := varint(tc.in); v != tc.want || n != tc.n {
			t.Errorf("varint(%x) = %d, %d; want %d, %d", tc.in, v, n, tc.want, tc.n)
		}
	}
}

// TestDescriptorsAreSharedAndOutliveEachFile: two Files of one database
// share a descriptor, which stays open until the last closes (closing it
// earlier would drop the locks SQLite holds on the file in this process).
func TestDescriptorsAreSharedAndOutliveEachFile(t *testing.T) {
	tb := newTable(t, []string{"PRAGMA journal_mode=WAL"}, keyTable, randomNames(10, 12))
	a, err := Open(tb.path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(tb.path)
	if err != nil {
		t.Fatal(err)
	}
	if a.db != b.db || a.shm != b.shm || a.shm == nil {
		t.Fatal("two Files of one database have descriptors of their own")
	}
	a.Close()
	if _, err := b.db.f.ReadAt(make([]byte, 100), 0); err != nil {
		t.Fatalf("the descriptor was closed while a File used it: %v", err)
	}
	if _, err := b.State(); err != nil {
		t.Fatalf("the -shm descriptor was closed while a File used it: %v", err)
	}
	d := b.db
	b.Close()
	if _, err := d.f.ReadAt(make([]byte, 100), 0); err == nil {
		t.Fatal("the descriptor is still open after the last File closed")
	}
	open.Lock()
	n := len(open.files)
	open.Unlock()
	if n != 0 {
		t.Fatalf("%d descriptors left open", n)
	}
}

// TestStateMovesWithARawWrite: in rollback-journal mode a write that does
// not go through SQLite (a Litestream follower rewriting pages, with the
// change counter as it was) still moves the state.
func TestStateMovesWithARawWrite(t *testing.T) {
	tb := newTable(t, nil, keyTable, randomNames(2000, 13))
	f, err := Open(tb.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before, err := f.State()
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(tb.path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	page := make([]byte, f.pageSize)
	if _, err := w.ReadAt(page, int64(f.pageSize)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // a coarse clock must tick
	if _, err := w.WriteAt(page, int64(f.pageSize)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	now, err := f.State()
	if err != nil {
		t.Fatal(err)
	}
	if before.Same(now) {
		t.Fatal("a page written without SQLite left the state as it was")
	}
}
