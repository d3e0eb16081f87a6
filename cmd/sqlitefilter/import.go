package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// maxReported is how many invalid lines per file are printed; the rest are
// only counted, so a binary file cannot flood the terminal.
const maxReported = 20

// counts is the summary of an import.
type counts struct {
	added, present, invalid, skipped int64
	reasons                          map[string]int64 // skipped, by reason
}

func (c *counts) addTo(total *counts) {
	total.added += c.added
	total.present += c.present
	total.invalid += c.invalid
	total.skipped += c.skipped
	for r, n := range c.reasons {
		total.reasons[r] += n
	}
}

func (c *counts) String() string {
	s := fmt.Sprintf("added %d, already present %d, invalid %d, skipped %d", c.added, c.present, c.invalid, c.skipped)
	if len(c.reasons) > 0 {
		var rs []string
		for r, n := range c.reasons {
			rs = append(rs, fmt.Sprintf("%s %d", r, n))
		}
		sort.Strings(rs)
		s += " (" + strings.Join(rs, ", ") + ")"
	}
	return s
}

// importJob holds what an import was asked to do.
type importJob struct {
	table   schema.Table
	tableOK bool // --table given
	format  format
	replace bool
	batch   int // rows per transaction
	// list is the list the import replaces the rows of (import --list);
	// "" adds to `default` in batches.
	list   string
	origin string // of an RPZ file, when its $ORIGIN or SOA does not say
	// onList, when set, runs in the list's transaction before it commits
	// (see listHook).
	onList listHook
	stdout io.Writer
	stderr io.Writer
}

func runImport(args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	tableName := fs.String("table", "", "table to import into (block rules for adblock and dnsmasq lists; default block_wildcard there)")
	formatName := fs.String("format", "auto", "auto, plain, hosts, adblock, dnsmasq, regex, csv or rpz")
	origin := fs.String("origin", "", "origin of an RPZ file (default: its $ORIGIN, else its SOA's owner)")
	replace := fs.Bool("replace", false, "build a new database with the tables this import writes replaced by the input, and rename it into place")
	batch := fs.Int("batch", defaultBatch, "rows per transaction")
	list := fs.String("list", "", "the list whose rows the input replaces, in one transaction (see list add)")
	pos, err := parseN(fs, args, 2, -1, "DB --table T [--format F] [--list NAME] [--replace] [--batch N] FILE…|-")
	if err != nil {
		return err
	}
	if *list != "" && *replace {
		return usagef("--list replaces the list's rows in place; it does not go with --replace")
	}
	if *batch < 1 {
		return usagef("--batch must be at least 1, got %d", *batch)
	}
	job := importJob{replace: *replace, batch: *batch, list: *list, origin: *origin, stdout: stdout, stderr: os.Stderr}
	if job.format, err = parseFormat(*formatName); err != nil {
		return asUsage(err)
	}
	if *tableName != "" {
		t, ok := schema.ParseTable(*tableName)
		if !ok {
			return usagef("unknown table %q", *tableName)
		}
		job.table, job.tableOK = t, true
	}
	ctx, stop := signalContext(context.Background())
	defer stop()
	return job.run(ctx, pos[0], pos[1:])
}

// resolve settles the format and table for one input.
func (j *importJob) resolve(in *input) (parser, error) {
	f := j.format
	if f == formatAuto {
		switch {
		case j.tableOK && j.table == schema.BlockRegex:
			f = formatRegex
		case j.tableOK && (j.table == schema.BlockIPv4 || j.table == schema.BlockIPv6):
			f = formatPlain // one address or prefix per line, which sniff may take for hosts
		case j.tableOK && j.table.TargetColumn() != "":
			f = formatCSV
		default:
			f = sniff(in.head(100))
		}
	}
	tables := formatTables(f)
	p := parser{format: f, table: tables[0]}
	if f == formatRPZ && j.tableOK {
		return p, usagef("%s: an RPZ file fills the tables its triggers say; it takes no --table", in.name)
	}
	if j.tableOK {
		if !slices.Contains(tables, j.table) {
			return p, fmt.Errorf("%s: a %s list cannot go into %s", in.name, f, j.table)
		}
		p.table = j.table
	} else if f == formatPlain || f == formatHosts || f == formatCSV {
		return p, fmt.Errorf("%s: a %s list needs --table (e.g. block_exact or block_wildcard)", in.name, f)
	}
	return p, nil
}

// written lists the tables an import may write, which --replace replaces.
func (j *importJob) written(p parser) []schema.Table {
	if p.format == formatRPZ {
		return rpzTables
	}
	ts := []schema.Table{p.table}
	if p.format == formatAdblock || p.format == formatDnsmasq {
		ts = append(ts, schema.Allow)
	}
	return ts
}

// run imports files into the database at dbPath. When ctx is cancelled (a
// signal) it stops within a line or a read, rolls back the batch in
// progress and returns an error that says what was kept.
func (j *importJob) run(ctx context.Context, dbPath string, files []string) (err error) {
	var kept int64 // rows added by batches already committed to dbPath
	defer func() {
		switch {
		case err == nil:
		case ctx.Err() != nil:
			err = j.interruptedError(ctx, dbPath, kept)
		case noSpace(err):
			err = j.noSpaceError(err, dbPath, kept)
		}
	}()
	prog := newProgress()
	defer prog.close()
	// Open the inputs first: a missing file or an unknown format fails the
	// import before anything is written.
	var inputs []*input
	var parsers []parser
	defer func() {
		for _, in := range inputs {
			in.close()
		}
	}()
	stdin := 0
	for _, name := range files {
		if name == "-" {
			if stdin++; stdin > 1 {
				return usagef("standard input (-) given twice")
			}
		}
		in, err := openInput(ctx, name)
		if err != nil {
			return err
		}
		inputs = append(inputs, in)
		p, err := j.resolve(in)
		if err != nil {
			return err
		}
		parsers = append(parsers, p)
	}
	return j.load(ctx, dbPath, inputs, parsers, prog, &kept)
}

// load imports the opened inputs, each read by its parser, into the
// database at dbPath, and closes prog before the totals. Rows its committed
// batches added are added to *kept as they commit.
func (j *importJob) load(ctx context.Context, dbPath string, inputs []*input, parsers []parser, prog *progress, kept *int64) error {
	target := dbPath
	if j.replace {
		var err error
		if target, err = j.prepareReplacement(ctx, dbPath, parsers); err != nil {
			return err
		}
		defer schema.RemoveTemp(target) // a no-op once renamed
	}
	db, err := openDatabase(target)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := j.tune(db); err != nil {
		return err
	}

	var listed *listImport
	if j.list != "" {
		if listed, err = j.beginList(db, parsers); err != nil {
			return err
		}
		defer listed.w.rollback()
	}
	total := counts{reasons: map[string]int64{}}
	start := time.Now()
	notes := map[string]bool{}
	for i, in := range inputs {
		prog.setInput(in.name, in.size, &in.read)
		c, err := j.importOne(ctx, db, in, &parsers[i], prog, kept, listed)
		if err != nil {
			return err
		}
		prog.printf(j.stdout, "%s: %s: %s\n", in.name, parsers[i].format, c)
		c.addTo(&total)
		for n := range parsers[i].notes {
			notes[n] = true
		}
	}
	if listed != nil {
		if err := j.finishList(listed, &total); err != nil {
			return err
		}
		*kept = listed.w.committed
	}
	prog.close()
	elapsed := time.Since(start)
	rows := total.added + total.present
	fmt.Fprintf(j.stdout, "total: %s in %s (%.0f rows/s)\n", &total, elapsed.Round(time.Millisecond), float64(rows)/elapsed.Seconds())
	for n := range notes {
		fmt.Fprintf(j.stdout, "note: %s\n", n)
	}
	// Before a replacement is renamed into place: a server that swaps it
	// in reads the filter at once.
	keep := keepOrStoreLarge
	if j.replace && target != dbPath {
		if _, err := os.Stat(dbPath); err == nil {
			if keep, err = keepModeFrom(dbPath); err != nil {
				return err
			}
		}
	}
	if err := keepKeyFilter(ctx, db, renamed{j.stdout, target, dbPath}, keep); err != nil {
		return err
	}
	if !j.replace {
		return nil
	}
	return j.finishReplacement(ctx, db, dbPath)
}

// warn prints a warning: something the import did not stop for.
func (j *importJob) warn(msg string) { fmt.Fprintf(j.stderr, "warning: %s\n", msg) }

// noSpaceError is the error of an import that ran out of disk space (or
// file size), naming the file that could not grow and what was kept.
func (j *importJob) noSpaceError(err error, dbPath string, kept int64) error {
	switch {
	case j.replace:
		return fmt.Errorf("writing %s: %s; it was removed and %s is unchanged: %w", schema.TempPath(dbPath), noSpaceMessage, dbPath, err)
	case kept == 0:
		return fmt.Errorf("writing %s (or its -wal): %s; the batch in progress was rolled back, nothing imported: %w", dbPath, noSpaceMessage, err)
	}
	return fmt.Errorf("writing %s (or its -wal): %s; the batch in progress was rolled back, the %d rows added by earlier batches are kept: %w", dbPath, noSpaceMessage, kept, err)
}

// interruptedError is the error of an import stopped by a signal, naming
// what is on disk: nothing new with --replace (the old file untouched, the
// new one removed by then), else the batches committed before the stop.
func (j *importJob) interruptedError(ctx context.Context, dbPath string, kept int64) error {
	switch {
	case j.replace:
		return stopped(ctx, "rolled back, nothing imported: %s is unchanged and %s removed", dbPath, schema.TempPath(dbPath))
	case kept == 0:
		return stopped(ctx, "rolled back, nothing imported: %s is unchanged", dbPath)
	}
	return stopped(ctx, "the batch in progress was rolled back; the %d rows added by earlier batches are kept in %s (running the same import again completes it)", kept, dbPath)
}

// tune sets the pragmas for bulk writing: the WAL keeps the server reading
// while an import into a live database runs; a replacement is a private file
// until renamed, so it needs no journal at all.
func (j *importJob) tune(db *database) error {
	pragmas := []string{"PRAGMA synchronous=NORMAL"}
	if j.replace {
		pragmas = []string{"PRAGMA journal_mode=OFF", "PRAGMA synchronous=OFF"}
	} else if _, err := db.Exec("PRAGMA journal_mode=WAL"); err != nil {
		fmt.Fprintf(j.stderr, "warning: %s stays in its journal mode: %v\n", db.path, err)
	}
	for _, p := range pragmas {
		if _, err := db.Exec(p); err != nil {
			return fmt.Errorf("%s: %s: %w", db.path, p, err)
		}
	}
	return nil
}

// importOne reads one input into db and returns its counts.
// Rows its committed batches added are added to *kept as they commit.
// With listed, the rows go into its transaction, which the caller ends.
func (j *importJob) importOne(ctx context.Context, db *database, in *input, p *parser, prog *progress, kept *int64, listed *listImport) (*counts, error) {
	c := &counts{reasons: map[string]int64{}}
	w := newWriter(db, j.batch)
	if listed != nil {
		w = listed.w
	} else {
		defer func() {
			w.rollback()
			*kept += w.committed
		}()
	}
	var o outcome
	reported := int64(0)
	report := func(msg string) {
		c.invalid++
		if reported++; reported <= maxReported {
			prog.printf(j.stderr, "%s: %s\n", in.where(), msg)
		}
	}
	apply := func() error {
		for _, pr := range o.problems {
			if pr.skipped {
				c.skipped++
				c.reasons[pr.reason]++
			} else {
				report(pr.reason)
			}
		}
		for _, e := range o.entries {
			added, err := w.add(e)
			if err != nil {
				return fmt.Errorf("%s: %w", in.where(), err)
			}
			if added {
				c.added++
			} else {
				c.present++
			}
			prog.rows.Add(1)
		}
		return nil
	}
	for p.format != formatRPZ {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s:%d: %w", in.name, in.line, context.Cause(ctx))
		default:
		}
		line, err := in.next()
		if err == io.EOF {
			break
		}
		if err == errLineTooLong {
			report(err.Error())
			continue
		}
		if err != nil {
			return nil, err
		}
		o.reset()
		p.parse(string(line), &o)
		if err := apply(); err != nil {
			return nil, err
		}
	}
	if p.format == formatRPZ {
		if err := j.importRPZ(in, p, prog, &o, apply); err != nil {
			return nil, err
		}
	}
	if listed == nil {
		if err := w.commit(); err != nil {
			return nil, fmt.Errorf("%s: %w", in.name, err)
		}
	}
	if reported > maxReported {
		prog.printf(j.stderr, "%s: %d more invalid lines not shown\n", in.name, reported-maxReported)
	}
	return c, nil
}

// prepareReplacement builds the new file next to dbPath: every table of the
// current database that this import does not write is copied over; the ones
// it writes start empty. A missing dbPath gets a new per-type database.
func (j *importJob) prepareReplacement(ctx context.Context, dbPath string, parsers []parser) (string, error) {
	for _, stale := range schema.RemoveStaleTemps(dbPath) {
		fmt.Fprintf(j.stderr, "removed %s, left by an import that was killed\n", stale)
	}
	tmp := schema.TempPath(dbPath)
	schema.RemoveTemp(tmp)
	var except [schema.NumTables]bool
	for _, p := range parsers {
		for _, t := range j.written(p) {
			except[t] = true
		}
	}
	layout, src := schema.PerType, ""
	if _, err := os.Stat(dbPath); err == nil {
		old, err := openReadOnly(dbPath)
		if err != nil {
			return "", err
		}
		layout, src = old.layout, dbPath
		old.Close()
	}
	if err := schema.BuildContext(ctx, src, tmp, layout, except); err != nil {
		schema.RemoveTemp(tmp)
		if src != "" {
			err = fmt.Errorf("copy %s: %w", dbPath, err)
		}
		return "", err
	}
	return tmp, nil
}

// finishReplacement checks the new file, leaves it in rollback-journal mode
// (no -wal of its own, see schema.Replace) and renames it over dbPath.
func (j *importJob) finishReplacement(ctx context.Context, db *database, dbPath string) error {
	var ok string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&ok); err != nil || ok != "ok" {
		return fmt.Errorf("check new database: %s %v", ok, err)
	}
	if _, err := db.Exec("PRAGMA journal_mode=DELETE"); err != nil {
		return fmt.Errorf("%s: %w", db.path, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("%s: %w", db.path, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := schema.ReplaceFrom(db.path, dbPath, "", j.warn); err != nil {
		return err
	}
	fmt.Fprintf(j.stdout, "replaced %s\n", dbPath)
	return nil
}
