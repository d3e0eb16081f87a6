package schema

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
)

// ShardOf returns the shard, from 0 to n-1, that holds the row whose key is
// key when a database is split into n files: FNV-1a (64 bits) of the key's
// bytes, modulo n. It decides where rows live on disk, so it must never
// change. The key is the row's canonical name (or address), so the decision
// finds every suffix of a query in the shard of that suffix.
func ShardOf(key string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	return int(h.Sum64() % uint64(n))
}

// InMemoryTable reports whether the plugin loads table t whole into memory
// rather than probing it by key (block_regex, the address rewrites and the
// blocked answer addresses). A
// split puts those rows in shard 0, where the plugin reads them.
func InMemoryTable(t Table) bool {
	return t == BlockRegex || t == RewriteV4 || t == RewriteV6 || t == BlockIPv4 || t == BlockIPv6
}

// splitBatch is how many rows a shard receives per transaction.
const splitBatch = 100_000

// Split copies every rule of the database at src into len(dsts) per-type
// shard databases: a row of a probed table goes to dsts[ShardOf(key, n)],
// an in-memory table's rows to dsts[0]. Each shard is built in
// rollback-journal mode next to its destination, and the shards are renamed
// into place (Replace) only once all of them are complete; a failure leaves
// every destination as it was. src is only read, in either layout.
//
// The renames are atomic one by one, not together: a server reading the
// shards while they are replaced may see some new and some old shards for
// up to one refresh interval.
func Split(src string, dsts []string) error {
	return SplitContext(context.Background(), src, dsts, nil, nil)
}

// SplitContext is Split that stops when ctx is done, leaving every
// destination as it was and the temporary files removed. A shard that
// replaces a file takes that file's mode, owner and group, a new shard
// those of src (ReplaceFrom); warn, if not nil, is told what of them could
// not be kept. finish, if not nil, runs on each complete shard before any is
// renamed into place.
func SplitContext(ctx context.Context, src string, dsts []string, warn func(string), finish func(ctx context.Context, tmp, dst string) error) error {
	if len(dsts) == 0 {
		return errors.New("split: no destination")
	}
	tmps := make([]string, len(dsts))
	for i, dst := range dsts {
		tmps[i] = TempPath(dst)
		RemoveTemp(tmps[i])
	}
	cleanup := func() {
		for _, tmp := range tmps {
			RemoveTemp(tmp)
		}
	}
	if err := split(ctx, src, tmps); err != nil {
		cleanup()
		return fmt.Errorf("split %s: %w", src, err)
	}
	for i, tmp := range tmps {
		if finish == nil {
			break
		}
		if err := finish(ctx, tmp, dsts[i]); err != nil {
			cleanup()
			return fmt.Errorf("split %s: %w", src, err)
		}
	}
	if err := ctx.Err(); err != nil {
		cleanup()
		return fmt.Errorf("split %s: %w", src, err)
	}
	for i, dst := range dsts {
		if err := ReplaceFrom(tmps[i], dst, src, warn); err != nil {
			cleanup()
			return err
		}
	}
	return nil
}

// shardWriter is one shard being built: its connection, the open batch and
// a prepared insert per table.
type shardWriter struct {
	db   *sql.DB
	tx   *sql.Tx
	ins  map[Table]*sql.Stmt
	rows int // rows in the open batch
}

func split(ctx context.Context, src string, tmps []string) error {
	in, err := sql.Open("sqlite3", DSN(src, "mode=ro"))
	if err != nil {
		return err
	}
	defer in.Close()
	layout, err := Detect(in)
	if err != nil {
		return err
	}
	present, err := Present(in)
	if err != nil {
		return err
	}
	lists, err := ListsCodingOf(in)
	if err != nil {
		return err
	}
	listTables, err := HasListTables(in)
	if err != nil {
		return err
	}
	shards := make([]*shardWriter, len(tmps))
	defer func() {
		for _, w := range shards {
			if w != nil {
				if w.tx != nil {
					w.tx.Rollback()
				}
				w.db.Close()
			}
		}
	}()
	for i, tmp := range tmps {
		if err := create(tmp, PerType, "DELETE"); err != nil {
			return fmt.Errorf("create %s: %w", tmp, err)
		}
		db, err := sql.Open("sqlite3", DSN(tmp, "mode=rw"))
		if err != nil {
			return err
		}
		db.SetMaxOpenConns(1)
		shards[i] = &shardWriter{db: db}
		if _, err := db.Exec("PRAGMA synchronous=OFF"); err != nil {
			return err
		}
		// Every shard's rows keep their lists; the lists and groups
		// themselves are read from shard 0, like the in-memory tables.
		switch {
		case lists != NoLists && i == 0:
			if _, err := Upgrade(db); err != nil {
				return fmt.Errorf("lists in %s: %w", tmp, err)
			}
		case lists != NoLists:
			if err := addListsColumns(db); err != nil {
				return fmt.Errorf("lists in %s: %w", tmp, err)
			}
		case listTables && i == 0:
			if _, err := AddListTables(db); err != nil {
				return fmt.Errorf("lists in %s: %w", tmp, err)
			}
		}
	}
	for _, t := range Tables {
		if !present[t] {
			continue
		}
		if err := splitTable(ctx, in, t, layout, lists, shards); err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
	}
	for _, w := range shards {
		if err := w.commit(); err != nil {
			return err
		}
	}
	if listTables {
		if err := copyRowsOf(ctx, in, shards[0].db, ListsTable, GroupsTable, GroupClientsTable); err != nil {
			return err
		}
	}
	for _, w := range shards {
		if err := w.db.Close(); err != nil {
			return err
		}
	}
	return nil
}

// splitTable streams table t of in (of layout l; its rows' lists held in
// coding lists) into the shards, which hold codes.
func splitTable(ctx context.Context, in *sql.DB, t Table, l Layout, lists ListsCoding, shards []*shardWriter) error {
	rows, err := in.QueryContext(ctx, rowsSelect("main", t, l, lists, CodedLists))
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, params := t.columns(), "?"
	if t.TargetColumn() != "" {
		params = "?, ?"
	}
	if lists != NoLists {
		cols, params = cols+", "+ListsColumn, params+", ?"
	}
	insert := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", t.Name(), cols, params)
	for rows.Next() {
		var key string
		var target sql.NullString
		var mask int64
		if err := rows.Scan(&key, &target, &mask); err != nil {
			return err
		}
		w := shards[0]
		if !InMemoryTable(t) {
			w = shards[ShardOf(key, len(shards))]
		}
		args := []any{key}
		if t.TargetColumn() != "" {
			args = append(args, target)
		}
		if lists != NoLists {
			args = append(args, mask)
		}
		if err := w.insert(t, insert, args); err != nil {
			return err
		}
	}
	return rows.Err()
}

// addListsColumns gives every rule table of a per-type database the lists
// column, without the lists and groups tables, at ListCodesVersion.
func addListsColumns(db *sql.DB) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := listsColumns(tx, PerType); err != nil {
		return err
	}
	return tx.Commit()
}

// copyRowsOf copies every row of the named tables of in into the same
// tables of out, by the columns the two have in common (out's tables were
// created by this version, in's by any).
func copyRowsOf(ctx context.Context, in, out *sql.DB, tables ...string) error {
	// Read before the transaction: out may have a single connection.
	cols := make([][]string, len(tables))
	for i, table := range tables {
		var err error
		if cols[i], err = commonColumns(in, out, table); err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	tx, err := out.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for i, table := range tables {
		if err := copyRows(ctx, in, tx, table, cols[i]); err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	return tx.Commit()
}

func copyRows(ctx context.Context, in *sql.DB, tx *sql.Tx, table string, cols []string) error {
	list := strings.Join(cols, ", ")
	rows, err := in.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s", list, table))
	if err != nil {
		return err
	}
	defer rows.Close()
	params := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
	st, err := tx.Prepare(fmt.Sprintf("INSERT OR REPLACE INTO %s (%s) VALUES (%s)", table, list, params))
	if err != nil {
		return err
	}
	defer st.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if _, err := st.Exec(vals...); err != nil {
			return err
		}
	}
	return rows.Err()
}

// commonColumns are the columns of table that both in and out have, in
// in's order.
func commonColumns(in, out *sql.DB, table string) ([]string, error) {
	have, err := columnsOf(out, table)
	if err != nil {
		return nil, err
	}
	src, err := columnsOf(in, table)
	if err != nil {
		return nil, err
	}
	var cols []string
	for _, c := range src {
		if slices.Contains(have, c) {
			cols = append(cols, c)
		}
	}
	return cols, nil
}

func columnsOf(db *sql.DB, table string) ([]string, error) {
	rows, err := db.Query("SELECT name FROM pragma_table_info(?)", table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

func (w *shardWriter) insert(t Table, query string, args []any) error {
	if w.tx == nil {
		tx, err := w.db.Begin()
		if err != nil {
			return err
		}
		w.tx, w.ins = tx, map[Table]*sql.Stmt{}
	}
	st, ok := w.ins[t]
	if !ok {
		var err error
		if st, err = w.tx.Prepare(query); err != nil {
			return err
		}
		w.ins[t] = st
	}
	if _, err := st.Exec(args...); err != nil {
		return err
	}
	w.rows++
	if w.rows >= splitBatch {
		return w.commit()
	}
	return nil
}

// commit ends the open batch, if any.
func (w *shardWriter) commit() error {
	if w.tx == nil {
		return nil
	}
	err := w.tx.Commit()
	w.tx, w.ins, w.rows = nil, nil, 0
	return err
}
