package main

import (
	"flag"
	"fmt"
	"os"
)

// runAdd adds one row, canonicalised like an import.
func runAdd(args []string) error {
	fs := flag.NewFlagSet("add", flag.ContinueOnError)
	tableName := fs.String("table", "", "table to add to")
	pos, err := parseN(fs, args, 2, 3, "DB --table T KEY [TARGET]")
	if err != nil {
		return err
	}
	t, err := tableFlag(*tableName)
	if err != nil {
		return err
	}
	hasTarget := t.TargetColumn() != ""
	if hasTarget != (len(pos) == 3) {
		if hasTarget {
			return usagef("%s needs KEY and TARGET", t)
		}
		return usagef("%s takes only KEY", t)
	}
	e := entry{table: t}
	if e.key, err = canonicalKey(t, pos[1]); err != nil {
		return fmt.Errorf("%q: %w", pos[1], err)
	}
	if hasTarget {
		if e.target, err = canonicalTarget(t, pos[2]); err != nil {
			return fmt.Errorf("%q: %w", pos[2], err)
		}
	}
	added, err := writeOne(pos[0], func(w *writer) (bool, error) { return w.add(e) })
	if err != nil {
		return err
	}
	if added {
		fmt.Fprintf(os.Stdout, "added %s %s\n", t, e.key)
	} else {
		fmt.Fprintf(os.Stdout, "already present: %s %s\n", t, e.key)
	}
	return nil
}
