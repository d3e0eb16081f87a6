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
	db, err := parseWithOneArg(fs, args, "DB")
	if err != nil {
		return err
	}
	if err := schema.Create(db); err != nil {
		return err
	}
	if *script == "" {
		return nil
	}
	if err := runScript(db, *script); err != nil {
		os.Remove(db)
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
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=rw&_txlock=immediate")
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

// parseWithOneArg parses flags that may come before or after the single
// positional argument named name.
func parseWithOneArg(fs *flag.FlagSet, args []string, name string) (string, error) {
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	pos := fs.Args()
	if len(pos) > 0 {
		if err := fs.Parse(pos[1:]); err != nil {
			return "", err
		}
		if fs.NArg() == 0 {
			return pos[0], nil
		}
	}
	return "", fmt.Errorf("want exactly one %s argument", name)
}
