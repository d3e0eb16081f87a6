package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/bloom"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// exactLimit is the file size up to which stats counts rows exactly; past it
// a count(*) reads the whole file, so stats uses ANALYZE's statistics.
const exactLimit = 1 << 30

func runStats(args []string) error {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	exact := fs.Bool("exact", false, "count rows exactly even in a large database (reads every row)")
	pos, err := parseN(fs, args, 1, 1, "DB [--exact]")
	if err != nil {
		return err
	}
	path := pos[0]
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	db, err := openReadOnly(path)
	if err != nil {
		return err
	}
	defer db.Close()
	version, err := schema.SchemaVersion(db.DB)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "file: %s, %d bytes", path, st.Size())
	if wal, err := os.Stat(path + "-wal"); err == nil {
		fmt.Fprintf(stdout, " (+%d bytes of WAL)", wal.Size())
	}
	fmt.Fprintf(stdout, "\nlayout: %s\nschema version: %d\n", db.layout, version)
	present, err := schema.Present(db.DB)
	if err != nil {
		return err
	}
	counter := rowCounter{db: db, exact: *exact || st.Size() <= exactLimit}
	for _, t := range schema.Tables {
		if !present[t] {
			fmt.Fprintf(stdout, "%-15s missing\n", t)
			continue
		}
		n, err := counter.count(t)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-15s %s\n", t, n)
	}
	if db.layout == schema.Normalized {
		for _, tbl := range []string{"domains", "records"} {
			n, err := counter.countTable(tbl)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%-15s %s\n", tbl, n)
		}
	}
	kf, err := bloom.Inspect(context.Background(), db.DB, db.layout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "key filter:     %s\n", describeKeyFilter(kf))
	return nil
}

// describeKeyFilter says what filter a file stores, and whether a server
// would read it.
func describeKeyFilter(st bloom.StoredState) string {
	switch {
	case !st.Present:
		return "none stored (a server builds it from the keys)"
	case st.Stale != "":
		return fmt.Sprintf("stored, %d keys, %.1f MB, stale: %s (a server builds it from the keys; `sqlitefilter keyfilter` stores it anew)", st.Keys, float64(st.Bytes)/(1<<20), st.Stale)
	}
	return fmt.Sprintf("stored, %d keys, %.1f MB, current (%d changes since, in the change log)", st.Keys, float64(st.Bytes)/(1<<20), st.Behind)
}

// rowCounter counts rows exactly, or estimates them from sqlite_stat1.
type rowCounter struct {
	db    *database
	exact bool
}

func (c rowCounter) count(t schema.Table) (string, error) {
	if c.db.layout == schema.PerType {
		return c.countTable(t.Name())
	}
	if !c.exact {
		return "? (a large normalized database has no per-type statistics; use --exact)", nil
	}
	var n int64
	err := c.db.QueryRow("SELECT count(*) FROM records WHERE record_type = ?", t.RecordType()).Scan(&n)
	return strconv.FormatInt(n, 10), err
}

// countTable counts the rows of a table (the name comes from schema).
func (c rowCounter) countTable(name string) (string, error) {
	if c.exact {
		var n int64
		err := c.db.QueryRow("SELECT count(*) FROM " + name).Scan(&n)
		return strconv.FormatInt(n, 10), err
	}
	var has int
	if err := c.db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'").Scan(&has); err != nil || has == 0 {
		return "? (no statistics: run `sqlitefilter optimize`, or use --exact)", err
	}
	var stat string
	err := c.db.QueryRow("SELECT stat FROM sqlite_stat1 WHERE tbl = ? ORDER BY idx IS NULL LIMIT 1", name).Scan(&stat)
	if err == sql.ErrNoRows {
		return "? (not in the statistics: run `sqlitefilter optimize`)", nil
	}
	if err != nil {
		return "", err
	}
	n, _, _ := strings.Cut(stat, " ")
	return "≈" + n + " (from the last ANALYZE)", nil
}
