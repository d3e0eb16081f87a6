package store

import (
	"database/sql/driver"
	"fmt"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// A probe returns the row's lists: decoded from a version 4 file's codes,
// read as they are from a version 3 file's plain masks.
func TestProbeReadsListsByTheFilesVersion(t *testing.T) {
	masks := map[string]uint64{"one.example": 1, "six.example": 1 << 6, "seven.example": 1 << 7, "forty.example": 1 << 40,
		"last.example": 1 << 63, "two.example": 1 | 1<<40, "odd.example": uint64(^uint64(8))}
	for _, plain := range []bool{false, true} {
		t.Run(fmt.Sprintf("plain=%v", plain), func(t *testing.T) {
			path := testkit.NewDB(t, schema.PerType, "wal")
			var stmts []string
			for k, m := range masks {
				v := schema.EncodeLists(m)
				if plain {
					v = int64(m)
				}
				stmts = append(stmts, fmt.Sprintf("INSERT INTO block_exact (Domain, lists) VALUES ('%s', %d)", k, v))
			}
			if plain {
				testkit.WithPlainLists(t, path, stmts...)
			} else {
				testkit.WithLists(t, path, stmts...)
			}
			s, err := Open(path, Options{Pool: 1, BusyTimeoutMS: 1000})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := View(Shards{s}, func(src policy.Lookup) error {
				for k, m := range masks {
					got, err := src.Lists(schema.BlockExact, k)
					if err != nil {
						return err
					}
					if uint64(got) != m {
						t.Errorf("%s: lists %#x, want %#x", k, uint64(got), m)
					}
				}
				var code driver.Value = schema.EncodeLists(1 << 40) // as the driver returns it
				allocs := testing.AllocsPerRun(100, func() { listsOf(code, true) })
				if allocs != 0 {
					t.Errorf("listsOf allocates %v times", allocs)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
