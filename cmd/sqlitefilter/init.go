package main

import (
	"database/sql"
	"flag"
	"fmt"
	"os"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

func runInit(args []string) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	script := fs.String("sql", "", "SQL script to run in the new database, e.g. example rows")
	layoutName := fs.String("layout", "per-type", "per-type or normalized")
	pos, err := parseN(fs, args, 1, 1, "DB [--layout per-type|normalized] [--sql FILE]")
	if err != nil {
		return err
	}
	layout, err := schema.ParseLayout(*layoutName)
	if err != nil {
		return asUsage(err)
	}
	db := pos[0]
	if err := schema.CreateLayout(db, layout); err != nil {
		return err
	}
	if *script == "" {
		return nil
	}
	if err := runScript(db, *script); err != nil {
		schema.RemoveTemp(db)
		return err
	}
	return nil
}

// runScript runs a SQL file in one transaction, so a failing script leaves
// nothing half applied.
func runScript(path, script string) error {
	text, err := os.ReadFile(script)
	if err != nil {
		return err
	}
	db, err := sql.Open("sqlite3", schema.DSN(path, "mode=rw&_txlock=immediate"))
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if _, err := tx.Exec(string(text)); err != nil {
		tx.Rollback()
		return fmt.Errorf("run %s: %w", script, err)
	}
	return tx.Commit()
}
