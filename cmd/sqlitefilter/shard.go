package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// The shard commands register themselves here rather than in main.go's
// table, which other work edits at the same time.
func init() {
	commands = append(commands,
		command{"split", "split SRC SHARD…   split SRC into shards by key hash (SHARD order = shard number)", runSplit},
		command{"explain-shards", "explain-shards [--client IP] NAME SHARD… [--cname T…] [--addr A…]   explain over shards made by split", runExplainShards},
	)
}

// runSplit splits a database into shards: each row goes to the shard
// schema.ShardOf picks for its key, block_regex and the address rewrites to
// the first. The shards are written next to their destinations and renamed
// into place only when all are complete.
func runSplit(args []string) error {
	fs := flag.NewFlagSet("split", flag.ContinueOnError)
	pos, err := parseN(fs, args, 2, -1, "SRC SHARD…")
	if err != nil {
		return err
	}
	src, dsts := pos[0], pos[1:]
	seen := map[string]bool{}
	for _, d := range dsts {
		abs, err := filepath.Abs(d)
		if err != nil {
			return err
		}
		if seen[abs] {
			return usagef("%s named twice", d)
		}
		if srcAbs, _ := filepath.Abs(src); abs == srcAbs {
			return usagef("%s is the source", d)
		}
		seen[abs] = true
	}
	finish, err := keepKeyFilterOf(src)
	if err != nil {
		return err
	}
	ctx, stop := signalContext(context.Background())
	defer stop()
	if err := schema.SplitContext(ctx, src, dsts, warn, finish); err != nil {
		if ctx.Err() != nil {
			return stopped(ctx, "nothing split: %s as they were, their temporary files removed", strings.Join(dsts, ", "))
		}
		if noSpace(err) {
			return fmt.Errorf("writing the new shards: %s; %s are as they were, their temporary files removed: %w", noSpaceMessage, strings.Join(dsts, ", "), err)
		}
		return err
	}
	fmt.Printf("%s: split into %d shards\n", src, len(dsts))
	return nil
}

// runExplainShards is explain over the shards of one database, in shard
// order, through the same decision code as the server.
func runExplainShards(args []string) error {
	fs := flag.NewFlagSet("explain-shards", flag.ContinueOnError)
	in := explainFlags(fs)
	pos, err := parseN(fs, args, 2, -1, "[--client IP] NAME SHARD… [--cname TARGET…] [--addr ADDRESS…]")
	if err != nil {
		return err
	}
	client, answer, err := in.parse()
	if err != nil {
		return err
	}
	name := queryName(pos[0])
	sh, err := store.OpenShards(pos[1:], explainOptions)
	if err != nil {
		return err
	}
	defer sh.Close()
	e, err := explainFor(sh, name, client, answer)
	if err != nil {
		return fmt.Errorf("decide %s: %w", name, err)
	}
	v := e.verdict
	fmt.Printf("name:    %s\n", name)
	answer.print(name)
	fmt.Printf("shard:   %d of %d\n", schema.ShardOf(name, len(sh)), len(sh))
	if e.group != "" {
		fmt.Printf("group:   %s\n", e.group)
	}
	fmt.Printf("verdict: %s\n", v.Action)
	if v.Action == policy.ActionPass {
		return nil
	}
	fmt.Printf("rule:    %s (shard %d)\n", v.Rule, ruleShard(v.Rule, len(sh)))
	fmt.Printf("list:    %s\n", e.list)
	if v.Target != "" {
		fmt.Printf("target:  %s\n", v.Target)
	}
	fmt.Printf("detail:  %+v\n", v)
	return nil
}

// ruleShard is the shard that holds a rule's row.
func ruleShard(r policy.Rule, n int) int {
	if schema.InMemoryTable(r.Table) {
		return 0
	}
	return schema.ShardOf(r.Key, n)
}
