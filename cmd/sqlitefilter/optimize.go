package main

import (
	"context"
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
	for _, q := range []string{"ANALYZE", "VACUUM"} {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%s: %s: %w", path, q, err)
		}
	}
	// VACUUM changes the schema version: a stored key filter is stale.
	if err := keepKeyFilter(context.Background(), db, os.Stdout, keepOrStoreLarge); err != nil {
		return err
	}
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("%s: checkpoint: %w", path, err)
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
