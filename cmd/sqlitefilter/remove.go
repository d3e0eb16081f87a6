package main

import (
	"flag"
	"fmt"
	"os"
)

// runRemove deletes one row. The key is canonicalised first when it can be,
// so `remove --table block_exact DB Ads.Example.COM.` finds the stored row;
// a key that is not canonical-able is looked up as given, so rows that an
// older tool stored badly can still be removed.
func runRemove(args []string) error {
	fs := flag.NewFlagSet("remove", flag.ContinueOnError)
	tableName := fs.String("table", "", "table to remove from")
	pos, err := parseN(fs, args, 2, 2, "DB --table T KEY")
	if err != nil {
		return err
	}
	t, err := tableFlag(*tableName)
	if err != nil {
		return err
	}
	key := pos[1]
	if c, err := canonicalKey(t, key); err == nil {
		key = c
	}
	removed, err := writeOne(pos[0], func(w *writer) (bool, error) { return w.remove(t, key) })
	if err != nil {
		return err
	}
	if !removed {
		return fmt.Errorf("%s has no row %q", t, key)
	}
	fmt.Fprintf(os.Stdout, "removed %s %s\n", t, key)
	return nil
}
