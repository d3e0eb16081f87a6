package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// stdout is where the listing commands print; tests replace it.
var stdout io.Writer = os.Stdout

// runUpgrade gives a database the lists column and the lists and groups
// tables (schema.Upgrade); every row is then in `default`.
func runUpgrade(args []string) error {
	return onDatabase("upgrade", args, openDatabase, func(db *database) error {
		changed, err := upgrade(db)
		if err != nil {
			return err
		}
		if !changed {
			fmt.Fprintf(stdout, "%s already has lists\n", db.path)
		}
		return db.Close()
	})
}

// upgrade runs schema.Upgrade and says what it changed.
func upgrade(db *database) (changed bool, err error) {
	changed, err = schema.Upgrade(db.DB)
	if err != nil {
		return false, fmt.Errorf("upgrade %s: %w", db.path, err)
	}
	if changed {
		// The schema changed: a stored key filter is stale.
		defer func() {
			if err == nil {
				err = keepKeyFilter(context.Background(), db, stdout, keepOrStoreLarge)
			}
		}()
		fmt.Fprintf(stdout, "upgraded %s to lists: every row is in %q", db.path, schema.DefaultList)
		if db.layout == schema.PerType {
			fmt.Fprint(stdout, "; scripts that insert into a rule table without naming its columns now name them: INSERT INTO block_exact (Domain) VALUES (…)")
		}
		fmt.Fprintln(stdout)
	}
	return changed, nil
}

// runList is `list add|enable|disable|remove DB NAME`.
func runList(args []string) error {
	if len(args) == 0 {
		return usagef("usage: sqlitefilter list add|enable|disable|remove DB NAME")
	}
	fs := flag.NewFlagSet("list "+args[0], flag.ContinueOnError)
	url := fs.String("url", "", "where the list comes from (an http(s) URL or a file), for sync")
	format := fs.String("format", "", "the list's format (as import --format)")
	pos, err := parseN(fs, args[1:], 2, 2, "DB NAME")
	if err != nil {
		return err
	}
	if args[0] != "add" && (*url != "" || *format != "") {
		return usagef("--url and --format go with list add")
	}
	if *format != "" {
		if _, err := parseFormat(*format); err != nil {
			return asUsage(err)
		}
	}
	name := pos[1]
	db, err := openDatabase(pos[0])
	if err != nil {
		return err
	}
	defer db.Close()
	switch args[0] {
	case "add":
		err = addList(db, name, *url, *format)
	case "enable", "disable":
		err = enableList(db, name, args[0] == "enable")
	case "remove":
		err = removeList(db, name)
	default:
		return usagef("unknown list command %q (want add, enable, disable or remove)", args[0])
	}
	if err != nil {
		return err
	}
	return db.Close()
}

// addList gives the list the lowest free id, upgrading the database first.
func addList(db *database, name, url, format string) error {
	if name == "" || strings.ContainsAny(name, " \t\n,") {
		return usagef("a list name is a word without spaces or commas, got %q", name)
	}
	if _, err := upgrade(db); err != nil {
		return err
	}
	id, err := freeListID(db)
	if err != nil {
		return err
	}
	_, err = db.Exec("INSERT INTO sqlitefilter_lists (id, name, url, format) VALUES (?, ?, nullif(?, ''), nullif(?, ''))", id, name, url, format)
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return fmt.Errorf("list %q exists", name)
		}
		return fmt.Errorf("add list %q: %w", name, err)
	}
	fmt.Fprintf(stdout, "added list %s (id %d)\n", name, id)
	return nil
}

func freeListID(db *database) (int, error) {
	used := map[int]bool{}
	rows, err := db.Query("SELECT id FROM sqlitefilter_lists")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			return 0, err
		}
		used[id] = true
	}
	for id := 1; id < schema.MaxLists; id++ {
		if !used[id] {
			return id, rows.Err()
		}
	}
	return 0, fmt.Errorf("%s has %d lists, the most it can hold; remove one first", db.path, schema.MaxLists)
}

// listID returns the id of the list called name.
func listID(db *database, name string) (int, error) {
	if ok, err := schema.HasListTables(db.DB); err != nil || !ok {
		if err == nil && name == schema.DefaultList {
			return 0, nil
		}
		return 0, errOr(err, fmt.Errorf("no list %q (add it with `sqlitefilter list add %s %s`)", name, db.path, name))
	}
	var id int
	err := db.QueryRow("SELECT id FROM sqlitefilter_lists WHERE name = ?", name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("no list %q (add it with `sqlitefilter list add %s %s`)", name, db.path, name)
	}
	return id, err
}

func errOr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// bit is the lists mask of list id as an SQLite integer (bit 63 negative):
// what a group's lists hold, and what inList and leaveList take. A rule
// row stores its code (schema.EncodeLists).
func bit(id int) int64 { return int64(uint64(1) << id) }

// inList is the SQL condition that the rule row's lists column col holds
// the list of the mask ?1.
func inList(col string) string { return schema.InListSQL(col, "?1") }

// leaveListSQL is the SQL value of the rule row's lists column without the
// list of the mask ?1.
var leaveListSQL = schema.EncodeListsSQL(schema.DecodeListsSQL(schema.ListsColumn) + " & ~?1")

func enableList(db *database, name string, on bool) error {
	if _, err := schema.AddListTables(db.DB); err != nil {
		return err
	}
	id, err := listID(db, name)
	if err != nil {
		return err
	}
	if _, err := db.Exec("UPDATE sqlitefilter_lists SET enabled = ? WHERE id = ?", on, id); err != nil {
		return err
	}
	state := map[bool]string{true: "enabled", false: "disabled"}[on]
	fmt.Fprintf(stdout, "%s list %s\n", state, name)
	return nil
}

// removeList takes the list out of every row and group, deletes the rows
// in no list any more, and the list, in one transaction.
func removeList(db *database, name string) error {
	if name == schema.DefaultList {
		return fmt.Errorf("the list %q cannot be removed (disable it instead)", name)
	}
	id, err := listID(db, name)
	if err != nil {
		return err
	}
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	b := bit(id)
	if err := leaveList(tx, db.layout, nil, b); err != nil {
		return err
	}
	n, err := dropListless(tx, db.layout, nil)
	if err != nil {
		return err
	}
	if _, err := tx.Exec("UPDATE sqlitefilter_groups SET lists = lists & ~?1 WHERE lists & ?1 != 0", b); err != nil {
		return err
	}
	if _, err := tx.Exec("DELETE FROM sqlitefilter_lists WHERE id = ?", id); err != nil {
		return err
	}
	// A list added later gets this id again: it must not inherit the
	// validators of this one's source.
	if _, err := tx.Exec("DELETE FROM "+schema.ListSyncTable+" WHERE list_id = ?", id); err != nil && !isNoSuchTable(err) {
		return fmt.Errorf("forget the sync state of list %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "removed list %s; %d rows in no other list were deleted\n", name, n)
	return nil
}

// leaveList takes the list of mask b out of the rows of the tables (every
// rule table when tables is nil); a row left in no list holds 0.
func leaveList(tx execer, l schema.Layout, tables []schema.Table, b int64) error {
	if tables == nil {
		tables = schema.Tables
	}
	for _, t := range tables {
		q := fmt.Sprintf("UPDATE %s SET lists = %s WHERE %s", t.Name(), leaveListSQL, inList("lists"))
		if l == schema.Normalized {
			q = fmt.Sprintf("UPDATE records SET lists = %s WHERE record_type = '%s' AND %s", leaveListSQL, t.RecordType(), inList("lists"))
		}
		if _, err := tx.Exec(q, b); err != nil {
			if isNoSuchTable(err) {
				continue
			}
			return fmt.Errorf("take %s out of the list: %w", t, err)
		}
	}
	return nil
}

// dropListless deletes the rows of the tables (nil: every rule table) that
// are in no list, and on a normalized database the names no rule uses any
// more. It returns how many rules it deleted.
func dropListless(tx execer, l schema.Layout, tables []schema.Table) (int64, error) {
	if tables == nil {
		tables = schema.Tables
	}
	var n int64
	if l == schema.Normalized {
		if _, err := tx.Exec(`DELETE FROM domains WHERE domain_id IN (SELECT domain_id FROM records WHERE lists = 0)
			AND NOT EXISTS (SELECT 1 FROM records r WHERE r.domain_id = domains.domain_id AND r.lists != 0)`); err != nil {
			return 0, err
		}
	}
	for _, t := range tables {
		q := fmt.Sprintf("DELETE FROM %s WHERE lists = 0", t.Name())
		if l == schema.Normalized {
			q = fmt.Sprintf("DELETE FROM records WHERE record_type = '%s' AND lists = 0", t.RecordType())
		}
		res, err := tx.Exec(q)
		if err != nil {
			if isNoSuchTable(err) {
				continue
			}
			return 0, fmt.Errorf("delete rows in no list from %s: %w", t, err)
		}
		k, _ := res.RowsAffected()
		n += k
	}
	return n, nil
}

type execer interface {
	Exec(q string, args ...any) (sql.Result, error)
}

func isNoSuchTable(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "no such table") || strings.Contains(err.Error(), "no such column"))
}

// runLists prints every list, and for a list sync has tried, when its rows
// last followed its source and how the last sync went.
func runLists(args []string) error {
	return onDatabase("lists", args, openReadOnly, func(db *database) error {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tENABLED\tURL\tFORMAT\tUPDATED\tLAST SYNC")
		if ok, err := schema.HasListTables(db.DB); err != nil {
			return err
		} else if !ok {
			fmt.Fprintf(tw, "0\t%s\tyes\t\t\t\t\n", schema.DefaultList)
			return tw.Flush()
		}
		q := "SELECT id, name, enabled, coalesce(url, ''), coalesce(format, ''), 0, '', 0 FROM sqlitefilter_lists ORDER BY id"
		if _, err := db.Exec("SELECT 1 FROM " + schema.ListSyncTable + " LIMIT 0"); err == nil {
			q = `SELECT l.id, l.name, l.enabled, coalesce(l.url, ''), coalesce(l.format, ''),
				coalesce(s.updated_at, 0), coalesce(s.status, ''), coalesce(s.status_at, 0)
				FROM sqlitefilter_lists l LEFT JOIN ` + schema.ListSyncTable + ` s ON s.list_id = l.id ORDER BY l.id`
		} else if !isNoSuchTable(err) {
			return err
		}
		rows, err := db.Query(q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int
			var name, url, format, status string
			var updated, statusAt int64
			var enabled bool
			if err := rows.Scan(&id, &name, &enabled, &url, &format, &updated, &status, &statusAt); err != nil {
				return err
			}
			last := ""
			if status != "" {
				last = msTime(statusAt) + " " + status
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", id, name, map[bool]string{true: "yes", false: "no"}[enabled], url, format, msTime(updated), last)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return tw.Flush()
	})
}

// msTime formats unix milliseconds for a listing; 0 is never, shown empty.
func msTime(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).Format(time.RFC3339)
}

// multiArgs parses `NAME --client A B --lists L M` style arguments: each
// flag of multi takes every argument up to the next flag (or a comma
// separated list); the rest are positional.
func multiArgs(args []string, multi ...string) (pos []string, vals map[string][]string, err error) {
	vals = map[string][]string{}
	cur := ""
	for _, a := range args {
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			f := strings.TrimLeft(a, "-")
			if !contains(multi, f) {
				return nil, nil, usagef("unknown flag %s", a)
			}
			cur = f
			vals[f] = vals[f][:len(vals[f]):len(vals[f])]
			continue
		}
		if cur == "" {
			pos = append(pos, a)
			continue
		}
		for _, v := range strings.Split(a, ",") {
			if v != "" {
				vals[cur] = append(vals[cur], v)
			}
		}
	}
	return pos, vals, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// runGroup is `group add DB NAME --client CIDR… --lists L…` and `group
// remove DB NAME`.
func runGroup(args []string) error {
	const usage = "usage: sqlitefilter group add DB NAME --client CIDR… --lists L…, or group remove DB NAME"
	if len(args) == 0 {
		return usagef(usage)
	}
	pos, vals, err := multiArgs(args[1:], "client", "lists")
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef(usage)
	}
	db, err := openDatabase(pos[0])
	if err != nil {
		return err
	}
	defer db.Close()
	switch args[0] {
	case "add":
		err = addGroup(db, pos[1], vals["client"], vals["lists"])
	case "remove":
		if len(vals) > 0 {
			return usagef(usage)
		}
		err = removeGroup(db, pos[1])
	default:
		return usagef(usage)
	}
	if err != nil {
		return err
	}
	return db.Close()
}

// addGroup creates the group, or replaces the clients and lists of one
// that exists (keeping a pause in progress).
func addGroup(db *database, name string, clients, lists []string) error {
	if len(lists) == 0 {
		return usagef("group add: --lists names at least one list")
	}
	if name == schema.DefaultGroup && len(clients) > 0 {
		return usagef("the group %q is every client in no other group: it takes --lists only", name)
	}
	if name != schema.DefaultGroup && len(clients) == 0 {
		return usagef("group add: --client names at least one CIDR")
	}
	var prefixes []string
	for _, c := range clients {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return usagef("%q is not a CIDR prefix or an address", c)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		prefixes = append(prefixes, p.Masked().String())
	}
	if _, err := schema.AddListTables(db.DB); err != nil {
		return err
	}
	var mask int64
	for _, l := range lists {
		id, err := listID(db, l)
		if err != nil {
			return err
		}
		mask |= bit(id)
	}
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO sqlitefilter_groups (name, lists) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET lists = excluded.lists`, name, mask); err != nil {
		return err
	}
	if _, err := tx.Exec("DELETE FROM sqlitefilter_group_clients WHERE group_name = ?", name); err != nil {
		return err
	}
	for _, p := range prefixes {
		var other string
		err := tx.QueryRow("SELECT group_name FROM sqlitefilter_group_clients WHERE prefix = ?", p).Scan(&other)
		if err == nil {
			return fmt.Errorf("%s is a client of group %s already", p, other)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec("INSERT INTO sqlitefilter_group_clients (prefix, group_name) VALUES (?, ?)", p, name); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "group %s: clients %s, lists %s\n", name, strings.Join(prefixes, " "), strings.Join(lists, " "))
	return nil
}

func removeGroup(db *database, name string) error {
	if ok, err := schema.HasListTables(db.DB); err != nil || !ok {
		return errOr(err, fmt.Errorf("no group %q", name))
	}
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.Exec("DELETE FROM sqlitefilter_groups WHERE name = ?", name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("no group %q", name)
	}
	if _, err := tx.Exec("DELETE FROM sqlitefilter_group_clients WHERE group_name = ?", name); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "removed group %s\n", name)
	return nil
}

// runGroups prints every group, its lists and clients, and its pause.
func runGroups(args []string) error {
	return onDatabase("groups", args, openReadOnly, func(db *database) error {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tLISTS\tCLIENTS\tPAUSED UNTIL")
		if ok, err := schema.HasListTables(db.DB); err != nil || !ok {
			if err == nil {
				fmt.Fprintf(tw, "%s\t(every enabled list)\t(everyone)\t\n", schema.DefaultGroup)
				return tw.Flush()
			}
			return err
		}
		names := map[int]string{}
		rows, err := db.Query("SELECT id, name FROM sqlitefilter_lists")
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int
			var n string
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return err
			}
			names[id] = n
		}
		rows.Close()
		rows, err = db.Query(`SELECT g.name, g.lists, g.paused_until, coalesce(group_concat(c.prefix, ' '), '')
			FROM sqlitefilter_groups g LEFT JOIN sqlitefilter_group_clients c ON c.group_name = g.name
			GROUP BY g.name ORDER BY g.name`)
		if err != nil {
			return err
		}
		defer rows.Close()
		hasDefault := false
		for rows.Next() {
			var name, clients string
			var mask, until int64
			if err := rows.Scan(&name, &mask, &until, &clients); err != nil {
				return err
			}
			hasDefault = hasDefault || name == schema.DefaultGroup
			var ls []string
			for m := policy.Lists(uint64(mask)); m != 0; m &= m - 1 {
				if n, ok := names[m.First()]; ok {
					ls = append(ls, n)
				}
			}
			paused := ""
			if until > time.Now().UnixMilli() {
				paused = time.UnixMilli(until).Format(time.RFC3339)
			}
			if name == schema.DefaultGroup {
				clients = "(everyone else)"
				if mask == -1 {
					ls = []string{"(every enabled list)"}
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, strings.Join(ls, " "), clients, paused)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if !hasDefault {
			fmt.Fprintf(tw, "%s\t(every enabled list)\t(everyone else)\t\n", schema.DefaultGroup)
		}
		return tw.Flush()
	})
}

// runPause turns a group's blocks off for a duration; the pause ends by
// itself. Pausing `default` pauses every client in no group.
func runPause(args []string) error {
	fs := flag.NewFlagSet("pause", flag.ContinueOnError)
	pos, err := parseN(fs, args, 3, 3, "DB GROUP DURATION")
	if err != nil {
		return err
	}
	d, err := time.ParseDuration(pos[2])
	if err != nil || d <= 0 {
		return usagef("%q is not a duration such as 10m or 1h30m", pos[2])
	}
	until := time.Now().Add(d)
	if err := setPause(pos[0], pos[1], until.UnixMilli()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "paused group %s until %s\n", pos[1], until.Format(time.RFC3339))
	return nil
}

// runResume ends a group's pause.
func runResume(args []string) error {
	fs := flag.NewFlagSet("resume", flag.ContinueOnError)
	pos, err := parseN(fs, args, 2, 2, "DB GROUP")
	if err != nil {
		return err
	}
	if err := setPause(pos[0], pos[1], 0); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "resumed group %s\n", pos[1])
	return nil
}

func setPause(path, group string, until int64) error {
	db, err := openDatabase(path)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := schema.AddListTables(db.DB); err != nil {
		return err
	}
	if group == schema.DefaultGroup {
		// The default group has a row only once something is set on it;
		// until then it holds every list.
		if _, err := db.Exec("INSERT INTO sqlitefilter_groups (name, lists) VALUES (?, -1) ON CONFLICT DO NOTHING", group); err != nil {
			return err
		}
	}
	res, err := db.Exec("UPDATE sqlitefilter_groups SET paused_until = ? WHERE name = ?", until, group)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("no group %q", group)
	}
	return db.Close()
}
