package main

import (
	"flag"
	"fmt"
	"os"
)

// runOptimize refreshes the planner's statistics (which stats reads too) and
// rewrites the file compactly.
func runOptimize(args []string) error {
	fs := flag.NewFlagSet("optimize", flag.ContinueOnError)
	pos, err := parseN(fs, args, 1, 1, "DB")
	if err != nil {
		return err
	}
	path := pos[0]
	before, err := os.Stat(path)
	if err != nil {
		return err
	}
	db, err := openDatabase(path)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range []string{"ANALYZE", "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"} {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%s: %s: %w", path, q, err)
		}
	}
	if err := db.Close(); err != nil {
		return err
	}
	after, err := os.Stat(path)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %d → %d bytes\n", path, before.Size(), after.Size())
	return nil
}
