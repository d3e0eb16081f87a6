package main

import (
	"flag"
	"fmt"
)

// parseArgs parses flags that may come before, between or after positional
// arguments (`import DB --table T FILE`), and returns the positional ones.
// After "--" everything is positional, so a file named "-x" can be given.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := args[:len(args)-len(rest)]; len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseN parses args and checks the number of positional arguments is within
// [min, max] (max < 0: no limit); usage names them for the error.
func parseN(fs *flag.FlagSet, args []string, min, max int, usage string) ([]string, error) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) < min || max >= 0 && len(pos) > max {
		return nil, fmt.Errorf("usage: sqlitefilter %s %s", fs.Name(), usage)
	}
	return pos, nil
}
