package main

import (
	"flag"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/rules"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// runExplain prints the verdict for a name and the rule that decided it,
// through the server's own store, in-memory rules and decision, so it cannot
// disagree with the server on the same database.
func runExplain(args []string) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	in := explainFlags(fs)
	pos, err := parseN(fs, args, 2, 3, "[--client IP] DB NAME [TYPE] [--cname TARGET…] [--addr ADDRESS…]")
	if err != nil {
		return err
	}
	client, answer, err := in.parse()
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
	e, err := explainFor(sh, name, client, answer)
	if err != nil {
		return fmt.Errorf("decide %s: %w", name, err)
	}
	v := e.verdict
	fmt.Printf("name:    %s %s\n", name, qtype)
	answer.print(name)
	fmt.Printf("layout:  %s\n", sh[0].Layout())
	if e.group != "" {
		fmt.Printf("group:   %s\n", e.group)
	}
	fmt.Printf("verdict: %s\n", v.Action)
	if v.Action == policy.ActionPass {
		return nil
	}
	fmt.Printf("rule:    %s\n", v.Rule)
	fmt.Printf("list:    %s\n", e.list)
	if v.Target != "" {
		fmt.Printf("target:  %s\n", v.Target)
	}
	if v.Answer != "" {
		fmt.Printf("blocked: %s\n", v.Answer)
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

// explainAnswer is what an answer holds that the server checks: the names
// of its chain, in order, and its addresses.
type explainAnswer struct {
	names []string
	addrs []netip.Addr
}

// print shows the answer given, after the query name.
func (a explainAnswer) print(name string) {
	if len(a.names) > 0 {
		fmt.Printf("chain:   %s\n", strings.Join(append([]string{name}, a.names...), " → "))
	}
	if len(a.addrs) > 0 {
		fmt.Printf("answer:  %v\n", a.addrs)
	}
}

// explainInput is what explain and explain-shards are told beside the name:
// who asks, and what the answer holds.
type explainInput struct {
	client        *string
	cnames, addrs listFlag
}

// explainFlags defines --client, --cname and --addr on fs.
func explainFlags(fs *flag.FlagSet) *explainInput {
	in := &explainInput{client: fs.String("client", "", "decide for the client at this address: its group's lists apply")}
	fs.Var(&in.cnames, "cname", "a name the answer leads to (CNAME, DNAME or SVCB target); repeat it, or separate names with commas, for a chain")
	fs.Var(&in.addrs, "addr", "an address of the answer (A, AAAA or a hint); repeat it or separate with commas")
	return in
}

// parse returns the client (the zero Addr when none is given) and the answer.
func (in *explainInput) parse() (netip.Addr, explainAnswer, error) {
	var client netip.Addr
	if *in.client != "" {
		var err error
		if client, err = netip.ParseAddr(*in.client); err != nil {
			return client, explainAnswer{}, usagef("--client: %q is not an address", *in.client)
		}
	}
	answer := explainAnswer{names: make([]string, len(in.cnames))}
	for i, c := range in.cnames {
		answer.names[i] = queryName(c)
	}
	for _, a := range in.addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return client, answer, usagef("--addr %q: %v", a, err)
		}
		answer.addrs = append(answer.addrs, ip)
	}
	return client, answer, nil
}

// explain decides name over the shards (one file is a set of one) as the
// server does once it has loaded its in-memory rules: the regex set read
// from shard 0 with the server's default caps, every probe routed to the
// shard of its key. Given an answer, it then checks it as the server does
// with answer_check on: the chain's names, then the addresses.
func explain(sh store.Shards, name string, answer explainAnswer) (policy.Verdict, error) {
	e, err := explainFor(sh, name, netip.Addr{}, answer)
	return e.verdict, err
}

// explained is a verdict and who it was decided for.
type explained struct {
	verdict policy.Verdict
	group   string // the client's group; "" for a database without groups
	list    string // the list of the row that decided
}

// explainFor is explain for the client at addr (the zero Addr: a client in
// no group), with the lists of its group as the server chooses them: the
// query name, the names of the answer and its addresses are all decided in
// that scope.
func explainFor(sh store.Shards, name string, client netip.Addr, answer explainAnswer) (explained, error) {
	set, err := rules.Load(sh[0], rules.DefaultLimits, nil, func(policy.Skipped, string) {})
	if err != nil {
		return explained{}, err
	}
	sc, group := set.Clients.ClientScope(client, time.Now)
	var e explained
	err = store.View(sh, func(l policy.Lookup) error {
		src := rules.Source{Lookup: l, Regex: set.Regex, RegexLists: set.RegexLists}
		qname := policy.Canonical(name)
		var err error
		if e.verdict, err = policy.DecideFor(src, qname, sc); err != nil {
			return err
		}
		decide := func(n string) (policy.Verdict, error) { return policy.DecideFor(src, n, sc) }
		q := e.verdict
		if e.verdict, err = policy.CheckChain(decide, q, qname, answer.names); err != nil || e.verdict.Action != q.Action {
			return err
		}
		for _, a := range answer.addrs {
			t := schema.BlockIPv6
			if a.Is4() {
				t = schema.BlockIPv4
			}
			if row, lists, ok := set.BlockIP.LookupIn(a, sc.Blocks); ok {
				e.verdict = policy.BlockIP(q, t, row, a.String(), lists)
				break
			}
		}
		return nil
	})
	e.group = group
	if e.verdict.Action != policy.ActionPass {
		e.list = set.Clients.ListName(e.verdict.Lists.First())
	}
	return e, err
}

// listFlag is a flag that may be repeated, each value a comma-separated
// list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}
