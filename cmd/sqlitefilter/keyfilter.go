package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/bloom"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// The key filter stored in the file (plugin/sqlitefilter/bloom, stored.go)
// makes a server ready in under a second at 100 M rows (measured: 0.4-0.7
// s), where building its filter from the keys takes about 0.2 s per
// million of them. `keyfilter` stores
// it in any file. The commands that write or rewrite many rows (import,
// sync, optimize, upgrade, and migrate and split for the files they make)
// keep it current when they are done, in files of keyFilterMinBytes and
// more, in files that store one already, and in the files made from one
// that does. add and remove leave it to the change log, which holds the
// last schema.ChangeLogKeep keys, and rewrite it only when it falls half
// that far behind.

// keyFilterMaxBytes caps the filter stored (3.4 billion keys); a server
// reads it only when its bloom_max_memory allows it.
const keyFilterMaxBytes = 4 << 30

// keyFilterMinBytes: below this file size (about 2 M rows) the bulk
// commands store no filter in a file that has none; a server builds it in
// under half a second.
const keyFilterMinBytes = 64 << 20

func init() {
	commands = append(commands, command{"keyfilter",
		"keyfilter DB [--remove]   store the key filter in the file (a server reads it instead of scanning every key)", runKeyFilter})
}

// runKeyFilter stores the key filter in the file, or removes it.
func runKeyFilter(args []string) error {
	fs := flag.NewFlagSet("keyfilter", flag.ContinueOnError)
	remove := fs.Bool("remove", false, "remove the stored filter")
	pos, err := parseN(fs, args, 1, 1, "DB [--remove]")
	if err != nil {
		return err
	}
	db, err := openDatabase(pos[0])
	if err != nil {
		return err
	}
	defer db.Close()
	if *remove {
		if _, err := db.Exec("DROP TABLE IF EXISTS " + schema.KeyFilterBits + "; DROP TABLE IF EXISTS " + schema.KeyFilter); err != nil {
			return fmt.Errorf("%s: remove the key filter: %w", db.path, err)
		}
		fmt.Fprintf(stdout, "%s: key filter removed\n", db.path)
		return db.Close()
	}
	ctx, stop := signalContext(context.Background())
	defer stop()
	if err := addChangeLog(db); err != nil {
		return err
	}
	if err := saveKeyFilter(ctx, db, stdout); err != nil {
		if ctx.Err() != nil {
			return stopped(ctx, "%s is as it was", db.path)
		}
		return err
	}
	return db.Close()
}

// addChangeLog gives db the change log when it has none (a file another
// tool made): without it a stored filter could not be tied to the data.
// Every row written from then on is logged in its writer's transaction.
func addChangeLog(db *database) error {
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", schema.ChangeLog).Scan(&n); err != nil {
		return fmt.Errorf("%s: %w", db.path, err)
	}
	if n > 0 {
		return nil
	}
	if err := schema.AddChangeLog(db.DB, db.layout); err != nil {
		return fmt.Errorf("%s: %w", db.path, err)
	}
	fmt.Fprintf(stdout, "%s: change log added (%s): the key filter stored follows the rows written from now on\n", db.path, schema.ChangeLog)
	return nil
}

// keepMode is when keepKeyFilter stores a filter.
type keepMode int

const (
	// keepStored rewrites a stored filter that falls half the change
	// log's length behind (add, remove).
	keepStored keepMode = iota
	// keepOrStoreLarge also stores one in a file of keyFilterMinBytes or
	// more that has none (the bulk commands).
	keepOrStoreLarge
	// keepOrStore stores one in any file (a file made from one that
	// stores a filter).
	keepOrStore
)

// keepKeyFilter keeps the filter stored in db current after a command
// wrote to it (see the top of this file).
func keepKeyFilter(ctx context.Context, db *database, out io.Writer, mode keepMode) error {
	st, err := bloom.Inspect(ctx, db.DB, db.layout)
	if err != nil {
		return fmt.Errorf("%s: %w", db.path, err)
	}
	switch {
	case st.Present && st.Stale == "" && st.Behind <= schema.ChangeLogKeep/2:
		return nil // current, or the change log covers it
	case st.Present, mode == keepOrStore:
	case mode == keepStored:
		return nil
	default:
		var size int64
		if err := db.QueryRowContext(ctx, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()").Scan(&size); err != nil {
			return fmt.Errorf("%s: %w", db.path, err)
		}
		if size < keyFilterMinBytes {
			return nil
		}
	}
	err = saveKeyFilter(ctx, db, out)
	if errors.Is(err, bloom.ErrNoChangeLog) {
		warn(fmt.Sprintf("%s: no key filter stored: %v", db.path, err))
		return nil
	}
	return err
}

// saveKeyFilter stores db's key filter and says so on out.
func saveKeyFilter(ctx context.Context, db *database, out io.Writer) error {
	saved, err := bloom.Save(ctx, db.DB, db.path, keyFilterMaxBytes, quietLog{})
	if err != nil {
		return fmt.Errorf("%s: store the key filter: %w", db.path, err)
	}
	how := "built from the keys"
	if !saved.Rebuilt {
		how = "updated from the change log"
	}
	fmt.Fprintf(out, "%s: key filter stored: %d keys, %.1f MB, %s in %s\n", db.path, saved.Keys, float64(saved.Bytes)/(1<<20), how, saved.Took.Round(time.Millisecond))
	return nil
}

// quietLog passes the filter's warnings on and keeps its notes.
type quietLog struct{}

func (quietLog) Infof(string, ...any)             {}
func (quietLog) Warningf(format string, v ...any) { warn(fmt.Sprintf(format, v...)) }

// keepKeyFilterOf returns the finishing step of a bulk command that makes
// new files from src (migrate, split): keepKeyFilter on each, before it is
// renamed into place, storing a filter in any of them when src stores one.
func keepKeyFilterOf(src string) (func(ctx context.Context, tmp, dst string) error, error) {
	mode, err := keepModeFrom(src)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, tmp, dst string) error {
		db, err := openDB(tmp, "mode=rw&_busy_timeout=10000&_txlock=immediate")
		if err != nil {
			return err
		}
		defer db.Close()
		if err := keepKeyFilter(ctx, db, renamed{stdout, tmp, dst}, mode); err != nil {
			return err
		}
		return db.Close()
	}, nil
}

// keepModeFrom is the keepMode of a bulk command that makes a file from
// src: keepOrStore when src stores a filter.
func keepModeFrom(src string) (keepMode, error) {
	db, err := openReadOnly(src)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	st, err := bloom.Inspect(context.Background(), db.DB, db.layout)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", src, err)
	}
	if st.Present {
		return keepOrStore, nil
	}
	return keepOrStoreLarge, nil
}

// renamed writes to w, naming to where a line names from: the temporary
// file is not the one the user named.
type renamed struct {
	w        io.Writer
	from, to string
}

func (p renamed) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, strings.ReplaceAll(string(b), p.from, p.to)); err != nil {
		return 0, err
	}
	return len(b), nil
}
