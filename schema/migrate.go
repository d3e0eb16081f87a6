package schema

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
)

// Migrate copies every rule of the database at src into a new database of
// layout to at dst. The copy is written to a temporary file next to dst,
// compared row for row with src (Verify), and renamed into place only when
// they match; src is only read. dst must not exist unless replace is set, in
// which case it is replaced atomically (Replace).
func Migrate(src, dst string, to Layout, replace bool) error {
	return MigrateContext(context.Background(), src, dst, to, replace, nil, nil)
}

// MigrateContext is Migrate that stops when ctx is done, leaving dst as it
// was and the temporary file removed. The new file takes the mode, owner and
// group of the dst it replaces, or of src when dst is new (ReplaceFrom);
// warn, if not nil, is told what of them could not be kept. finish, if not
// nil, runs on the verified new file before it is renamed into place.
func MigrateContext(ctx context.Context, src, dst string, to Layout, replace bool, warn func(string), finish func(ctx context.Context, tmp, dst string) error) error {
	if !replace {
		if _, err := os.Stat(dst); err == nil {
			return fmt.Errorf("migrate to %s: file exists", dst)
		}
	}
	tmp := TempPath(dst)
	RemoveTemp(tmp)
	if err := BuildContext(ctx, src, tmp, to, [NumTables]bool{}); err != nil {
		RemoveTemp(tmp)
		return fmt.Errorf("migrate %s to %s: %w", src, dst, err)
	}
	if err := VerifyContext(ctx, src, tmp); err != nil {
		RemoveTemp(tmp)
		return fmt.Errorf("migrate %s to %s: %w", src, dst, err)
	}
	if finish != nil {
		if err := finish(ctx, tmp, dst); err != nil {
			RemoveTemp(tmp)
			return fmt.Errorf("migrate %s to %s: %w", src, dst, err)
		}
	}
	if err := ctx.Err(); err != nil {
		RemoveTemp(tmp)
		return fmt.Errorf("migrate %s to %s: %w", src, dst, err)
	}
	if err := ReplaceFrom(tmp, dst, src, warn); err != nil {
		RemoveTemp(tmp)
		return err
	}
	return nil
}

// Build creates a new rollback-journal database at tmp with layout to and
// copies into it, in one transaction, every rule table of src except those
// marked in except. It is the first half of a migration or of an import that
// replaces some tables; tmp is ready for Replace once closed. An empty src
// gives an empty database.
func Build(src, tmp string, to Layout, except [NumTables]bool) error {
	return BuildContext(context.Background(), src, tmp, to, except)
}

// BuildContext is Build that stops, with ctx's error, when ctx is done: a
// copy in progress is interrupted and rolled back; the caller removes tmp.
func BuildContext(ctx context.Context, src, tmp string, to Layout, except [NumTables]bool) error {
	if err := create(tmp, to, "DELETE"); err != nil {
		return err
	}
	if src == "" {
		return nil
	}
	db, err := sql.Open("sqlite3", DSN(tmp, "mode=rw"))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // ATTACH and the transaction belong to one connection
	if _, err := db.Exec("ATTACH DATABASE ? AS src", DSN(src, "mode=ro")); err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	srcDB, err := sql.Open("sqlite3", DSN(src, "mode=ro"))
	if err != nil {
		return err
	}
	defer srcDB.Close()
	from, err := Detect(srcDB)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	lists, err := ListsCodingOf(srcDB)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	listTables, err := HasListTables(srcDB)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	listSync, err := hasTable(srcDB, ListSyncTable)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	// The copy keeps the memberships and the lists and groups: it gets the
	// lists column when src has it, at ListCodesVersion whatever src's.
	if lists != NoLists {
		if _, err := Upgrade(db); err != nil {
			return err
		}
	} else if listTables {
		if _, err := AddListTables(db); err != nil {
			return err
		}
	}
	present, err := Present(srcDB)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	for _, p := range []string{"PRAGMA cache_size=-262144", "PRAGMA synchronous=OFF"} {
		if _, err := db.Exec(p); err != nil {
			return err
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, t := range Tables {
		if !present[t] || except[t] {
			continue
		}
		for _, q := range copyStatements(t, from, to, lists) {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("copy %s: %w", t, err)
			}
		}
	}
	if listTables {
		if err := copyListTables(tx); err != nil {
			return err
		}
	}
	if listSync {
		if err := copyListSync(tx); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if _, err := db.Exec("DETACH DATABASE src"); err != nil {
		return err
	}
	return db.Close()
}

// copyStatements returns the SQL that copies table t from the attached src,
// of layout from, into main with layout to, with the lists (held in src in
// coding lists, copied as codes) when src has them. The SQL is made from the
// table constants only.
func copyStatements(t Table, from, to Layout, lists ListsCoding) []string {
	sel := rowsSelect("src", t, from, lists, CodedLists)
	m, mcol := "", ""
	if lists != NoLists {
		m, mcol = ", s.m", ", "+ListsColumn
	}
	if to == PerType {
		cols := t.columns()
		vals := "s.k"
		if t.TargetColumn() != "" {
			vals += ", s.v"
		}
		return []string{fmt.Sprintf("INSERT INTO main.%s (%s%s) SELECT %s%s FROM (%s) s", t.Name(), cols, mcol, vals, m, sel)}
	}
	return []string{
		// WHERE true: an upsert after SELECT needs it to parse.
		fmt.Sprintf("INSERT INTO main.domains (domain) SELECT s.k FROM (%s) s WHERE true ON CONFLICT (domain) DO NOTHING", sel),
		fmt.Sprintf("INSERT INTO main.records (domain_id, record_type, target_value%s) SELECT d.domain_id, '%s', s.v%s FROM (%s) s JOIN main.domains d ON d.domain = s.k",
			mcol, t.RecordType(), m, sel),
	}
}

// Present reports which rule tables (or legacy views) a database has.
func Present(db *sql.DB) ([NumTables]bool, error) {
	var present [NumTables]bool
	for _, t := range Tables {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE type IN ('table', 'view') AND name = ?", t.Name()).Scan(&n); err != nil {
			return present, err
		}
		present[t] = n > 0
	}
	return present, nil
}

// errMismatch marks a difference found by Verify.
var errMismatch = errors.New("databases differ")
