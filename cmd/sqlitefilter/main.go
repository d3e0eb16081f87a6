// Command sqlitefilter creates and maintains sqlitefilter databases.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

// command is one subcommand: it gets the arguments after its name.
type command struct {
	name  string
	usage string
	run   func(args []string) error
}

var commands = []command{
	{"init", "init DB [--layout per-type|normalized] [--sql FILE]   create a database", runInit},
	{"import", "import DB --table T [--format auto|plain|hosts|adblock|dnsmasq|regex|csv] | --format rpz [--origin NAME] [--list NAME] [--replace] [--batch N] FILE…|-", runImport},
	{"add", "add DB --table T KEY [TARGET]   add one row", runAdd},
	{"remove", "remove DB --table T KEY   remove one row", runRemove},
	{"export", "export DB --table T [--format F]   write a table as text", runExport},
	{"stats", "stats DB [--exact]   layout, schema version, size, rows per table", runStats},
	{"check", "check DB   integrity, non-canonical rows, rows the plugin would skip", runCheck},
	{"optimize", "optimize DB   ANALYZE and VACUUM", runOptimize},
	{"migrate", "migrate SRC DST [--layout L] [--replace]   copy into the other layout, verified row for row", runMigrate},
	{"explain", "explain [--client IP] DB NAME [TYPE]   the verdict for NAME, the rule and the list that decided it", runExplain},
	{"upgrade", "upgrade DB   add the lists column and the lists and groups tables (every row in default)", runUpgrade},
	{"list", "list add|enable|disable|remove DB NAME [--url URL --format F]   manage a named list", runList},
	{"lists", "lists DB   the named lists, and when each last followed its URL", runLists},
	{"sync", "sync DB [--timeout D] [--list NAME…]   fetch every list that has a URL and re-import the ones that changed", runSync},
	{"group", "group add DB NAME --client CIDR… --lists L… | group remove DB NAME   manage a client group", runGroup},
	{"groups", "groups DB   the client groups, their lists, clients and pauses", runGroups},
	{"pause", "pause DB GROUP DURATION   turn the group's blocks off for a while", runPause},
	{"resume", "resume DB GROUP   end the group's pause", runResume},
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	for _, c := range commands {
		if c.name != os.Args[1] {
			continue
		}
		err := c.run(os.Args[2:])
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "sqlitefilter %s: %v\n", c.name, err)
		}
		os.Exit(exitCode(err))
	}
	fmt.Fprintf(os.Stderr, "sqlitefilter: unknown command %q\n", os.Args[1])
	usage()
	os.Exit(2)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: sqlitefilter COMMAND ARGS")
	for _, c := range commands {
		fmt.Fprintf(os.Stderr, "  %s\n", c.usage)
	}
}

// exitCode is the status a command's error exits with: 0 for none (and for
// -h, which printed the usage asked for), 2 for a usage error, 128 plus the
// signal number for a command stopped by SIGINT or SIGTERM (what a shell
// reports for a process the signal killed), 1 for any other failure.
func exitCode(err error) int {
	var sig *interrupted
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case isUsage(err):
		return 2
	case errors.As(err, &sig):
		return 128 + int(sig.sig)
	}
	return 1
}

// warn prints a warning on standard error: something a command did not stop
// for but the operator should know.
func warn(msg string) { fmt.Fprintf(os.Stderr, "warning: %s\n", msg) }
