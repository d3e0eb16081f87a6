package bloom

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// recordingLogger keeps what the filter says.
type recordingLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *recordingLogger) Infof(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, v...))
}

func (l *recordingLogger) Warningf(format string, v ...any) { l.Infof("warning: "+format, v...) }

func (l *recordingLogger) said(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// manyKeys is SQL that adds n keys to table (of layout l), named
// "<prefix><i>.test", in one statement.
func manyKeys(l schema.Layout, t schema.Table, prefix string, n int) string {
	view := t.Name()
	return fmt.Sprintf(`WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d)
		INSERT INTO %s (%s) SELECT '%s' || i || '.test' FROM c`, n, view, t.KeyColumn(), prefix)
}

// buildAndCheck builds the filter of path and checks that it holds every
// key of the filtered tables; it returns what the build logged.
func buildAndCheck(t *testing.T, path string, keys map[schema.Table]string, n int, k *KeyFilter) {
	t.Helper()
	s, err := store.Open(path, store.Options{Pool: 1, BusyTimeoutMS: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := k.build(s, 0)
	if err != nil {
		t.Fatal(err)
	}
	for tbl, prefix := range keys {
		for i := 1; i <= n; i++ {
			if key := fmt.Sprintf("%s%d.test", prefix, i); !st.b.mayContain(key) {
				t.Fatalf("%s: %s is not in the filter", tbl.Name(), key)
			}
		}
	}
}

// TestBuildReadsThePages: a filter is built from the file's pages, with no
// SQL read of the keys, in every layout and journal mode, and holds every
// key.
func TestBuildReadsThePages(t *testing.T) {
	const n = 20000
	tests := []struct {
		layout  schema.Layout
		journal string
	}{
		{schema.PerType, "wal"},
		{schema.PerType, "delete"},
		{schema.Normalized, "wal"},
		{schema.Normalized, "delete"},
	}
	for _, tc := range tests {
		t.Run(tc.layout.String()+"/"+tc.journal, func(t *testing.T) {
			path := testkit.NewDB(t, tc.layout, tc.journal)
			keys := map[schema.Table]string{schema.BlockExact: "exact", schema.BlockWildcard: "wild", schema.Allow: "allow"}
			var stmts []string
			for tbl, prefix := range keys {
				stmts = append(stmts, manyKeys(tc.layout, tbl, prefix, n))
			}
			testkit.ExecSQL(t, path, stmts...)
			log := &recordingLogger{}
			buildAndCheck(t, path, keys, n, New(1<<30, log))
			if log.said("through SQL") {
				t.Fatalf("keys were read through SQL: %q", log.lines)
			}
		})
	}
}

// TestBuildReadsTheLogsFrames: in WAL mode, rows a writer committed but no
// checkpoint copied into the file yet are read from the log's frames.
func TestBuildReadsTheLogsFrames(t *testing.T) {
	const n = 5000
	path := testkit.NewDB(t, schema.PerType, "wal")
	w := testkit.OpenRW(t, path)
	defer w.Close() // the last connection to close checkpoints: not before the build
	for _, q := range []string{"PRAGMA wal_autocheckpoint=0", manyKeys(schema.PerType, schema.BlockExact, "late", n)} {
		if _, err := w.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	log := &recordingLogger{}
	buildAndCheck(t, path, map[schema.Table]string{schema.BlockExact: "late"}, n, New(1<<30, log))
	if log.said("through SQL") {
		t.Fatalf("keys were read through SQL: %q", log.lines)
	}
}

// TestBuildGoesOnThroughSQLAfterACommit: a commit between two chunks of the
// page scan moves keys the walk has not reached; the scan goes on through
// SQL after the last key of the last whole chunk, and no key is missed.
func TestBuildGoesOnThroughSQLAfterACommit(t *testing.T) {
	const n = 60000 // several chunks of pages
	for _, journal := range []string{"wal", "delete"} {
		t.Run(journal, func(t *testing.T) {
			path := testkit.NewDB(t, schema.PerType, journal)
			testkit.ExecSQL(t, path, manyKeys(schema.PerType, schema.BlockExact, "k", n))
			log := &recordingLogger{}
			k := New(1<<30, log)
			once := sync.Once{}
			chunks := 0
			k.afterChunk = func(table string) {
				if chunks++; table == schema.BlockExact.Name() {
					once.Do(func() { testkit.ExecSQL(t, path, manyKeys(schema.PerType, schema.BlockExact, "a", 3000)) })
				}
			}
			buildAndCheck(t, path, map[schema.Table]string{schema.BlockExact: "k"}, n, k)
			if !log.said("read through SQL after key") || !log.said("changed during the scan") {
				t.Fatalf("the scan did not hand over to SQL after the commit (%d chunks): %q", chunks, log.lines)
			}
		})
	}
}
