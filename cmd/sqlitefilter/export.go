package main

import (
	"bufio"
	"database/sql"
	"encoding/csv"
	"flag"
	"fmt"
	"os"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// runExport writes a table back as text that import reads: one key per line
// (names or patterns), hosts lines, or CSV pairs.
func runExport(args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	tableName := fs.String("table", "", "table to export")
	formatName := fs.String("format", "", "plain, hosts (name tables), regex, csv, or rpz (every table, no --table); default by table")
	origin := fs.String("origin", defaultRPZOrigin, "the zone name of --format rpz")
	pos, err := parseN(fs, args, 1, 1, "DB --table T [--format F] | DB --format rpz [--origin NAME]")
	if err != nil {
		return err
	}
	if *formatName == formatRPZ.String() {
		return runExportRPZ(pos[0], *tableName, *origin)
	}
	t, err := tableFlag(*tableName)
	if err != nil {
		return err
	}
	fm := defaultExportFormat(t)
	if *formatName != "" {
		if fm, err = parseFormat(*formatName); err != nil {
			return asUsage(err)
		}
	}
	if err := checkExportFormat(t, fm); err != nil {
		return err
	}
	db, err := openReadOnly(pos[0])
	if err != nil {
		return err
	}
	defer db.Close()
	present, err := schema.Present(db.DB)
	if err != nil {
		return err
	}
	if !present[t] {
		return fmt.Errorf("%s has no table %s", pos[0], t)
	}
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	if err := exportTable(db.DB, t, fm, out); err != nil {
		return err
	}
	return out.Flush()
}

func defaultExportFormat(t schema.Table) format {
	switch {
	case t == schema.BlockRegex:
		return formatRegex
	case t.TargetColumn() != "":
		return formatCSV
	}
	return formatPlain
}

func checkExportFormat(t schema.Table, f format) error {
	ok := false
	switch f {
	case formatPlain, formatHosts:
		ok = t.TargetColumn() == "" && t != schema.BlockRegex
	case formatRegex:
		ok = t == schema.BlockRegex
	case formatCSV:
		ok = t.TargetColumn() != ""
	}
	if !ok {
		return usagef("cannot export %s as %s", t, f)
	}
	return nil
}

func exportTable(db *sql.DB, t schema.Table, f format, out *bufio.Writer) error {
	rows, err := db.Query(fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", pairColumns(t), t.Name(), t.KeyColumn()))
	if err != nil {
		return fmt.Errorf("export %s: %w", t, err)
	}
	defer rows.Close()
	cw := csv.NewWriter(out)
	for rows.Next() {
		var key string
		var tgt sql.NullString
		if err := rows.Scan(&key, &tgt); err != nil {
			return fmt.Errorf("export %s: %w", t, err)
		}
		switch f {
		case formatHosts:
			fmt.Fprintf(out, "0.0.0.0 %s\n", key)
		case formatCSV:
			cw.Write([]string{key, tgt.String})
			cw.Flush()
		default:
			out.WriteString(key)
			out.WriteByte('\n')
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("export %s: %w", t, err)
	}
	return cw.Error()
}
