package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// runMigrate copies a database into the other layout (or the one given),
// verified row for row before the new file is renamed into place.
func runMigrate(args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	layoutName := fs.String("layout", "", "layout of DST (default: the other one)")
	replace := fs.Bool("replace", false, "replace DST if it exists")
	pos, err := parseN(fs, args, 2, 2, "SRC DST [--layout per-type|normalized] [--replace]")
	if err != nil {
		return err
	}
	src, dst := pos[0], pos[1]
	db, err := openReadOnly(src)
	if err != nil {
		return err
	}
	from := db.layout
	db.Close()
	to := schema.Normalized
	if from == schema.Normalized {
		to = schema.PerType
	}
	if *layoutName != "" {
		if to, err = schema.ParseLayout(*layoutName); err != nil {
			return asUsage(err)
		}
	}
	finish, err := keepKeyFilterOf(src)
	if err != nil {
		return err
	}
	ctx, stop := signalContext(context.Background())
	defer stop()
	if err := schema.MigrateContext(ctx, src, dst, to, *replace, warn, finish); err != nil {
		if ctx.Err() != nil {
			return stopped(ctx, "nothing migrated: %s is as it was and %s removed", dst, schema.TempPath(dst))
		}
		if noSpace(err) {
			return fmt.Errorf("writing %s: %s; it was removed and %s is as it was: %w", schema.TempPath(dst), noSpaceMessage, dst, err)
		}
		return err
	}
	fmt.Printf("%s (%s) → %s (%s): every row verified\n", src, from, dst, to)
	return nil
}
