package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/rules"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
)

// runExplain prints the verdict for a name and the rule that decided it,
// through the server's own store, in-memory rules and decision, so it cannot
// disagree with the server on the same database.
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
	sh, err := store.OpenShards(pos[:1], explainOptions)
	if err != nil {
		return err
	}
	defer sh.Close()
	v, err := explain(sh, name)
	if err != nil {
		return fmt.Errorf("decide %s: %w", name, err)
	}
	fmt.Printf("name:    %s %s\n", name, qtype)
	fmt.Printf("layout:  %s\n", sh[0].Layout())
	fmt.Printf("verdict: %s\n", v.Action)
	if v.Action == policy.ActionPass {
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
	return policy.Canonical(s)
}

// explainOptions open a database for one decision, waiting for a writer's
// lock rather than failing.
var explainOptions = store.Options{Pool: 1, BusyTimeoutMS: 5000}

// explain decides name over the shards (one file is a set of one) as the
// server does once it has loaded its in-memory rules: the regex set read
// from shard 0 with the server's default caps, every probe routed to the
// shard of its key.
func explain(sh store.Shards, name string) (policy.Verdict, error) {
	set, err := rules.Load(sh[0], rules.DefaultLimits, nil, func(policy.Skipped, string) {})
	if err != nil {
		return policy.Verdict{}, err
	}
	var v policy.Verdict
	err = store.View(sh, func(l policy.Lookup) error {
		var err error
		v, err = policy.Decide(rules.Source{Lookup: l, Regex: set.Regex}, policy.Canonical(name))
		return err
	})
	return v, err
}
