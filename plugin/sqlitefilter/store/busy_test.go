package store_test

import (
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// In rollback-journal mode a writer that holds the EXCLUSIVE lock keeps
// readers out; a lookup waits for it up to the busy timeout, and fails with
// SQLITE_BUSY after that instead of stalling.
func TestRollbackLookupWaitsForTheWriterWithinBusyTimeout(t *testing.T) {
	tests := []struct {
		name     string
		busyMS   int
		wantBusy bool
	}{
		{"lock released within the timeout", 10_000, false},
		{"lock held beyond the timeout", 50, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := testkit.NewDB(t, schema.PerType, "delete")
			w := testkit.OpenRW(t, path)
			defer w.Close()
			s, err := store.Open(path, store.Options{Pool: 1, BusyTimeoutMS: tc.busyMS})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := w.Exec(`BEGIN EXCLUSIVE`); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Exec(`INSERT INTO block_exact VALUES ('ads.example.com')`); err != nil {
				t.Fatal(err)
			}
			released := make(chan error, 1)
			go func() {
				time.Sleep(300 * time.Millisecond)
				_, err := w.Exec(`COMMIT`)
				released <- err
			}()
			var found bool
			err = store.View(store.Shards{s}, func(src policy.Lookup) error {
				var err error
				found, err = policy.Has(src, schema.BlockExact, "ads.example.com")
				return err
			})
			if err := <-released; err != nil {
				t.Fatal(err)
			}
			var se sqlite3.Error
			gotBusy := errors.As(err, &se) && se.Code == sqlite3.ErrBusy
			if gotBusy != tc.wantBusy || (!tc.wantBusy && (err != nil || !found)) {
				t.Fatalf("lookup = %v, %v; want busy %v (else the committed row)", found, err, tc.wantBusy)
			}
		})
	}
}

// In rollback-journal mode connections keep their read transaction, and the
// file's shared lock, across lookups for a moment: a writer's commits still
// go through while lookups run without pause, and an idle store gives the
// lock back by itself.
func TestRollbackWriterIsNeverStarved(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "delete")
	s, err := store.Open(path, store.Options{Pool: 2, BusyTimeoutMS: 5000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lookup := func() error {
		return store.View(store.Shards{s}, func(src policy.Lookup) error {
			_, err := policy.Has(src, schema.BlockExact, "ads.example.com")
			return err
		})
	}
	stop := make(chan struct{})
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				if err := lookup(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	// The writer waits for the readers' lock for 2 s at most: starved, a
	// commit fails with SQLITE_BUSY.
	w, err := sql.Open("sqlite3", schema.DSN(path, "mode=rw&_busy_timeout=2000&_txlock=immediate"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetMaxOpenConns(1)
	for i := range 20 {
		if _, err := w.Exec(`INSERT INTO block_exact VALUES (?)`, fmt.Sprintf("w%d.example.com", i)); err != nil {
			t.Fatalf("commit %d while lookups run: %v", i, err)
		}
	}
	close(stop)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Idle now: a writer that does not wait at all gets the exclusive lock
	// once the held transactions have expired.
	if err := lookup(); err != nil {
		t.Fatal(err)
	}
	impatient, err := sql.Open("sqlite3", schema.DSN(path, "mode=rw&_busy_timeout=0"))
	if err != nil {
		t.Fatal(err)
	}
	defer impatient.Close()
	if !testkit.Poll(5*time.Second, func() bool {
		_, err := impatient.Exec(`BEGIN EXCLUSIVE; COMMIT`)
		return err == nil
	}) {
		t.Fatal("an idle store keeps the file's shared lock")
	}
}
