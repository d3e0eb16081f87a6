package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter"
)

// runExplain prints the verdict for a name and the rule that decided it,
// through the plugin's own OpenStore and Decide, so it cannot disagree with
// the server on the same database.
func runExplain(args []string) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	pos, err := parseN(fs, args, 2, 3, "DB NAME [TYPE]")
	if err != nil {
		return err
	}
	qtype := "A"
	if len(pos) == 3 {
		qtype = strings.ToUpper(pos[2])
		if _, ok := dns.StringToType[qtype]; !ok {
			return usagef("unknown query type %q", pos[2])
		}
	}
	name := queryName(pos[1])
	store, err := sqlitefilter.OpenStore(pos[0], sqlitefilter.StoreOptions{Pool: 1, BusyTimeoutMS: 5000})
	if err != nil {
		return err
	}
	defer store.Close()
	v, err := sqlitefilter.Explain(store, sqlitefilter.DefaultConfig(), name)
	if err != nil {
		return fmt.Errorf("decide %s: %w", name, err)
	}
	fmt.Printf("name:    %s %s\n", name, qtype)
	fmt.Printf("layout:  %s\n", store.Layout())
	fmt.Printf("verdict: %s\n", v.Action)
	if v.Action == sqlitefilter.ActionPass {
		return nil
	}
	fmt.Printf("rule:    %s\n", v.Rule)
	if v.Target != "" {
		fmt.Printf("target:  %s\n", v.Target)
	}
	// Everything the verdict holds, so fields the decision gains show up here
	// without a change to this command.
	fmt.Printf("detail:  %+v\n", v)
	return nil
}

// queryName is the name an operator typed, as the server would see it. It
// may be Unicode: on the wire it would be punycode, so convert it like the
// import does; otherwise take it as the server would.
func queryName(s string) string {
	if name, err := canonicalName(s); err == nil {
		return name
	}
	return sqlitefilter.Canonical(s)
}
