package main

import (
	"database/sql"
	"flag"
	"fmt"
	"os"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// database is a sqlitefilter database opened for writing by the admin command.
type database struct {
	*sql.DB
	path   string
	layout schema.Layout
	lists  bool // the rule tables have the lists column
}

// openDatabase opens an existing database read-write. The admin command is
// one writer among possibly many readers (the server), so it waits for locks
// rather than failing, and keeps the page cache large for bulk work.
func openDatabase(path string) (*database, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open %s: %w (create it with `sqlitefilter init %s`)", path, err, path)
	}
	db, err := openDB(path, "mode=rw&_busy_timeout=10000&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	// A file of an older schema version gets the tables of this one, so
	// that rows can go into them, and a version 3 file's lists are
	// encoded, so that every row written holds a code; the plugin reads
	// either.
	if err := schema.UpgradeAnswers(db.DB); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := schema.UpgradeListCodes(db.DB); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// openReadOnly opens an existing database for reading only.
func openReadOnly(path string) (*database, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return openDB(path, "mode=ro&_busy_timeout=10000")
}

func openDB(path, params string) (*database, error) {
	db, err := sql.Open("sqlite3", schema.DSN(path, params))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// One connection: pragmas and transactions then apply to every statement.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("PRAGMA cache_size=-262144"); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	l, err := schema.Detect(db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	lists, err := schema.HasListsColumn(db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &database{DB: db, path: path, layout: l, lists: lists}, nil
}

// onDatabase runs a command whose only argument is DB: it parses the
// arguments of command name, opens DB with open (openDatabase or
// openReadOnly), runs fn on it and closes it.
func onDatabase(name string, args []string, open func(string) (*database, error), fn func(*database) error) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	pos, err := parseN(fs, args, 1, 1, "DB")
	if err != nil {
		return err
	}
	db, err := open(pos[0])
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db)
}
