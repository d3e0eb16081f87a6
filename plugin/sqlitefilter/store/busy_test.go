package store_test

import (
	"errors"
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
