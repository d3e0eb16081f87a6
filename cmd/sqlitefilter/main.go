// Command sqlitefilter creates and maintains sqlitefilter databases.
package main

import (
	"fmt"
	"os"
)

// command is one subcommand: it gets the arguments after its name.
type command struct {
	usage string
	run   func(args []string) error
}

var commands = map[string]command{
	"init": {"init DB [--sql FILE]   create a database, optionally running a SQL script in it", runInit},
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "sqlitefilter: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := cmd.run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "sqlitefilter %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: sqlitefilter COMMAND ARGS")
	for _, c := range commands {
		fmt.Fprintf(os.Stderr, "  %s\n", c.usage)
	}
}
