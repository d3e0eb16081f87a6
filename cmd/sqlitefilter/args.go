package main

import (
	"errors"
	"flag"
	"fmt"
)

// usageError is a command line the command cannot run as given: an unknown
// flag, a missing or unknown flag value, or the wrong number of arguments.
// main exits 2 for it and 1 when the operation itself failed, so a script
// can tell a typo in its own command line from a database that is broken.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// asUsage marks err, if any, as a usage error.
func asUsage(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err}
}

// usagef is a new usage error.
func usagef(format string, args ...any) error { return asUsage(fmt.Errorf(format, args...)) }

// isUsage reports whether err is (or wraps) a usage error.
func isUsage(err error) bool {
	var u *usageError
	return errors.As(err, &u)
}

// parseArgs parses flags that may come before, between or after positional
// arguments (`import DB --table T FILE`), and returns the positional ones.
// After "--" everything is positional, so a file named "-x" can be given.
// A flag it cannot parse is a usage error (flag.ErrHelp for -h stays
// recognisable through it).
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, asUsage(err)
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
		return nil, usagef("usage: sqlitefilter %s %s", fs.Name(), usage)
	}
	return pos, nil
}
