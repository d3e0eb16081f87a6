package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// captured runs fn with the listing commands' output captured.
func captured(t *testing.T, fn func() error) (string, error) {
	t.Helper()
	var buf bytes.Buffer
	old := stdout
	stdout = &buf
	defer func() { stdout = old }()
	err := fn()
	return buf.String(), err
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// membership returns the lists mask of key in table tbl (its stored code
// decoded), 0 when absent.
func membership(t *testing.T, path string, l schema.Layout, tbl schema.Table, key string) int64 {
	t.Helper()
	db := testkit.OpenRO(t, path)
	defer db.Close()
	q := fmt.Sprintf("SELECT coalesce((SELECT lists FROM %s WHERE %s = ?), 0)", tbl.Name(), tbl.KeyColumn())
	if l == schema.Normalized {
		q = fmt.Sprintf("SELECT coalesce((SELECT r.lists FROM records r JOIN domains d USING (domain_id) WHERE d.domain = ? AND r.record_type = '%s'), 0)", tbl.RecordType())
	}
	var m int64
	must(t, "membership", db.QueryRow(q, key).Scan(&m))
	return int64(schema.DecodeLists(m))
}

// stored is the lists value key's row of block_wildcard holds, 0 when
// absent.
func stored(t *testing.T, path string, l schema.Layout, key string) int64 {
	t.Helper()
	return int64(schema.EncodeLists(uint64(membership(t, path, l, schema.BlockWildcard, key))))
}

func listFile(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "list.txt")
	must(t, "write", os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	return p
}

// decideAs is the verdict explain gives for name and client.
func decideAs(t *testing.T, path, name, client string) explained {
	t.Helper()
	sh, err := store.OpenShards([]string{path}, explainOptions)
	must(t, "open", err)
	defer sh.Close()
	var addr netip.Addr
	if client != "" {
		addr = netip.MustParseAddr(client)
	}
	e, err := explainFor(sh, name, addr, explainAnswer{})
	must(t, "explain", err)
	return e
}

// TestListCommandsInBothLayouts walks every list and group subcommand:
// list add, import --list (twice: names no longer in the source leave the
// list, other lists keep theirs), lists, list disable/enable, group add,
// groups, pause, resume, explain --client, group remove and list remove.
func TestListCommandsInBothLayouts(t *testing.T) {
	for _, l := range []schema.Layout{schema.PerType, schema.Normalized} {
		t.Run(l.String(), func(t *testing.T) {
			db := testkit.NewDB(t, l, "wal", testkit.BlockWildcard("legacy.example", "both.example")...)
			_, err := captured(t, func() error {
				return runList([]string{"add", db, "ads", "--url", "https://lists.example/ads.txt", "--format", "plain"})
			})
			must(t, "list add ads", err)
			_, err = captured(t, func() error { return runList([]string{"add", db, "kids"}) })
			must(t, "list add kids", err)
			if _, err := captured(t, func() error { return runList([]string{"add", db, "ads"}) }); err == nil {
				t.Error("list add of an existing list succeeded")
			}
			first := listFile(t, "one.example", "two.example", "both.example")
			_, err = captured(t, func() error { return runImport([]string{db, "--table", "block_wildcard", "--list", "ads", first}) })
			must(t, "import --list ads", err)
			_, err = captured(t, func() error {
				return runImport([]string{db, "--table", "block_wildcard", "--list", "kids", listFile(t, "two.example", "games.example")})
			})
			must(t, "import --list kids", err)
			// Re-import ads without two.example and one.example.
			_, err = captured(t, func() error {
				return runImport([]string{db, "--table", "block_wildcard", "--list", "ads", listFile(t, "both.example", "three.example")})
			})
			must(t, "re-import --list ads", err)
			const def, ads, kids = 1, 2, 4
			for key, want := range map[string]int64{
				"legacy.example": def, "both.example": def | ads, "one.example": 0,
				"two.example": kids, "three.example": ads, "games.example": kids,
			} {
				if got := membership(t, db, l, schema.BlockWildcard, key); got != want {
					t.Errorf("%s: lists %b, want %b", key, got, want)
				}
			}
			out, err := captured(t, func() error { return runLists([]string{db}) })
			must(t, "lists", err)
			if !strings.Contains(out, "ads") || !strings.Contains(out, "https://lists.example/ads.txt") || !strings.Contains(out, "kids") {
				t.Errorf("lists:\n%s", out)
			}
			_, err = captured(t, func() error {
				return runGroup([]string{"add", db, "children", "--client", "10.1.0.0/16", "10.9.9.9", "--lists", "kids,default"})
			})
			must(t, "group add", err)
			if _, err := captured(t, func() error {
				return runGroup([]string{"add", db, "other", "--client", "10.1.0.0/16", "--lists", "ads"})
			}); err == nil {
				t.Error("a prefix given to a second group was accepted")
			}
			if _, err := captured(t, func() error { return runGroup([]string{"add", db, "bad", "--client", "10.1.0.0/40", "--lists", "ads"}) }); err == nil {
				t.Error("a bad CIDR was accepted")
			}
			if _, err := captured(t, func() error {
				return runGroup([]string{"add", db, "bad", "--client", "10.2.0.0/16", "--lists", "nosuch"})
			}); err == nil {
				t.Error("an unknown list was accepted")
			}
			out, err = captured(t, func() error { return runGroups([]string{db}) })
			must(t, "groups", err)
			if !strings.Contains(out, "children") || !strings.Contains(out, "10.9.9.9/32") || !strings.Contains(out, "default kids") {
				t.Errorf("groups:\n%s", out)
			}
			checks := []struct{ name, client, want, list string }{
				{"three.example", "", "block", "ads"},
				{"three.example", "10.1.2.3", "pass", ""},
				{"games.example", "10.1.2.3", "block", "kids"},
				{"legacy.example", "10.9.9.9", "block", "default"},
			}
			for _, c := range checks {
				e := decideAs(t, db, c.name, c.client)
				if e.verdict.Action.String() != c.want || e.list != c.list {
					t.Errorf("explain --client %q %s = %s (list %q), want %s (%q)", c.client, c.name, e.verdict.Action, e.list, c.want, c.list)
				}
			}
			if g := decideAs(t, db, "games.example", "10.1.2.3").group; g != "children" {
				t.Errorf("group %q", g)
			}
			_, err = captured(t, func() error { return runList([]string{"disable", db, "kids"}) })
			must(t, "list disable", err)
			if a := decideAs(t, db, "games.example", "10.1.2.3").verdict.Action; a != policy.ActionPass {
				t.Errorf("a disabled list still blocks: %s", a)
			}
			_, err = captured(t, func() error { return runList([]string{"enable", db, "kids"}) })
			must(t, "list enable", err)
			_, err = captured(t, func() error { return runPause([]string{db, "children", "1h"}) })
			must(t, "pause", err)
			if a := decideAs(t, db, "games.example", "10.1.2.3").verdict.Action; a != policy.ActionPass {
				t.Errorf("a paused group still blocks: %s", a)
			}
			if a := decideAs(t, db, "games.example", "192.0.2.1").verdict.Action; a != policy.ActionBlock {
				t.Errorf("the pause reached the default group: %s", a)
			}
			_, err = captured(t, func() error { return runResume([]string{db, "children"}) })
			must(t, "resume", err)
			if a := decideAs(t, db, "games.example", "10.1.2.3").verdict.Action; a != policy.ActionBlock {
				t.Errorf("resume left the group paused: %s", a)
			}
			_, err = captured(t, func() error { return runPause([]string{db, "default", "1h"}) })
			must(t, "pause default", err)
			if a := decideAs(t, db, "games.example", "192.0.2.1").verdict.Action; a != policy.ActionPass {
				t.Errorf("pause default: %s", a)
			}
			if _, err := captured(t, func() error { return runPause([]string{db, "nosuch", "1h"}) }); err == nil {
				t.Error("pause of an unknown group succeeded")
			}
			_, err = captured(t, func() error { return runGroup([]string{"remove", db, "children"}) })
			must(t, "group remove", err)
			if g := decideAs(t, db, "games.example", "10.1.2.3").group; g != "default" {
				t.Errorf("after group remove the client is in %q", g)
			}
			_, err = captured(t, func() error { return runList([]string{"remove", db, "kids"}) })
			must(t, "list remove", err)
			if got := membership(t, db, l, schema.BlockWildcard, "games.example"); got != 0 {
				t.Errorf("a row only in a removed list stays: %b", got)
			}
			if _, err := captured(t, func() error { return runList([]string{"remove", db, "default"}) }); err == nil {
				t.Error("list remove default succeeded")
			}
			if err := schema.Verify(db, db); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestUpgradeKeepsEveryVerdict: a file of today gets the lists column
// without a row changing verdict.
func TestUpgradeKeepsEveryVerdict(t *testing.T) {
	db := testkit.NewDB(t, schema.PerType, "wal", testkit.Rows(testkit.BlockExact("ads.example"), testkit.Allow("ok.ads.example"),
		testkit.BlockWildcard("ads.example"), testkit.Alias("intel.com", "keweon.center"), testkit.BlockRegex(`^track`))...)
	names := []string{"ads.example", "ok.ads.example", "x.ads.example", "www.intel.com", "tracker.example", "none.example"}
	var before []policy.Verdict
	for _, n := range names {
		before = append(before, decideAs(t, db, n, "").verdict)
	}
	out, err := captured(t, func() error { return runUpgrade([]string{db}) })
	must(t, "upgrade", err)
	if !strings.Contains(out, "upgraded") {
		t.Errorf("upgrade said %q", out)
	}
	for i, n := range names {
		if after := decideAs(t, db, n, "10.0.0.1").verdict; fmt.Sprint(after) != fmt.Sprint(before[i]) {
			t.Errorf("%s: %+v before the upgrade, %+v after", n, before[i], after)
		}
	}
	out, err = captured(t, func() error { return runUpgrade([]string{db}) })
	must(t, "second upgrade", err)
	if !strings.Contains(out, "already") {
		t.Errorf("second upgrade said %q", out)
	}
}

// TestExplainChecksTheAnswerInTheClientsScope: explain --client with
// --cname and --addr decides the answer's names and addresses with the
// lists of the client's group, as the server does; block_ip rows are
// imported into lists like any other table's.
func TestExplainChecksTheAnswerInTheClientsScope(t *testing.T) {
	for _, l := range []schema.Layout{schema.PerType, schema.Normalized} {
		t.Run(l.String(), func(t *testing.T) {
			db := testkit.NewDB(t, l, "wal")
			for _, n := range []string{"kids", "ads"} {
				_, err := captured(t, func() error { return runList([]string{"add", db, n}) })
				must(t, "list add "+n, err)
			}
			_, err := captured(t, func() error {
				return runImport([]string{db, "--table", "block_wildcard", "--list", "kids", listFile(t, "tracker-cdn.test")})
			})
			must(t, "import block_wildcard", err)
			_, err = captured(t, func() error {
				return runImport([]string{db, "--table", "block_ip_v4", "--list", "ads", listFile(t, "198.18.0.0/16")})
			})
			must(t, "import block_ip_v4", err)
			_, err = captured(t, func() error {
				return runGroup([]string{"add", db, "children", "--client", "10.1.0.0/16", "--lists", "kids"})
			})
			must(t, "group add children", err)
			_, err = captured(t, func() error {
				return runGroup([]string{"add", db, "adults", "--client", "10.2.0.0/16", "--lists", "ads"})
			})
			must(t, "group add adults", err)
			sh, err := store.OpenShards([]string{db}, explainOptions)
			must(t, "open", err)
			defer sh.Close()
			answer := explainAnswer{names: []string{"shop.tracker-cdn.test"}, addrs: []netip.Addr{netip.MustParseAddr("198.18.0.66")}}
			tests := []struct {
				client       string
				action, list string
			}{
				{"10.1.0.5", "block_cname", "kids"},
				{"10.2.0.5", "block_ip", "ads"},
				{"192.0.2.9", "block_cname", "kids"}, // no group: every enabled list, the chain first
			}
			for _, tc := range tests {
				e, err := explainFor(sh, "metrics.shop.test", netip.MustParseAddr(tc.client), answer)
				must(t, "explain", err)
				if e.verdict.Action.String() != tc.action || e.list != tc.list {
					t.Errorf("explain --client %s = %s (list %q), want %s (list %q)", tc.client, e.verdict.Action, e.list, tc.action, tc.list)
				}
			}
			_, err = captured(t, func() error { return runGroup([]string{"add", db, "default", "--lists", "default"}) })
			must(t, "group add default", err)
			sh2, err := store.OpenShards([]string{db}, explainOptions)
			must(t, "open", err)
			defer sh2.Close()
			if e, err := explainFor(sh2, "metrics.shop.test", netip.MustParseAddr("192.0.2.9"), answer); err != nil || e.verdict.Action != policy.ActionPass {
				t.Errorf("explain for a client of default (lists: default) = %s, %v; want pass", e.verdict.Action, err)
			}
		})
	}
}

// TestHighListsInBothLayouts: lists 7..63 hold their rows as one-byte
// codes through every command that writes or copies memberships: import
// --list (a name in two high lists), a re-import that replaces a high
// list's rows, list remove, migrate and split; explain decides by them per
// client group.
func TestHighListsInBothLayouts(t *testing.T) {
	for _, l := range []schema.Layout{schema.PerType, schema.Normalized} {
		t.Run(l.String(), func(t *testing.T) {
			db := testkit.NewDB(t, l, "wal")
			for id := 1; id < schema.MaxLists; id++ {
				_, err := captured(t, func() error { return runList([]string{"add", db, fmt.Sprintf("l%d", id)}) })
				must(t, "list add", err)
			}
			imp := func(list string, names ...string) {
				t.Helper()
				_, err := captured(t, func() error {
					return runImport([]string{db, "--table", "block_wildcard", "--list", list, listFile(t, names...)})
				})
				must(t, "import --list "+list, err)
			}
			imp("l7", "seven.example", "both.example")
			imp("l63", "both.example", "last.example", "gone.example")
			imp("l40", "forty.example")
			imp("l40", "forty.example") // again: nothing changes
			const l7, l40, l63 = int64(1) << 7, int64(1) << 40, int64(-1) << 63
			want := map[string]int64{"seven.example": l7, "both.example": l7 | l63, "last.example": l63, "gone.example": l63, "forty.example": l40}
			check := func(when string) {
				t.Helper()
				for key, m := range want {
					if got := membership(t, db, l, schema.BlockWildcard, key); got != m {
						t.Errorf("%s: %s in lists %#x, want %#x", when, key, uint64(got), uint64(m))
					}
				}
			}
			check("after the imports")
			for key, code := range map[string]int64{"seven.example": -8, "forty.example": -41, "last.example": -64} {
				if got := stored(t, db, l, key); got != code {
					t.Errorf("%s stored as %d, want the one-byte code %d", key, got, code)
				}
			}
			_, err := captured(t, func() error {
				return runGroup([]string{"add", db, "last", "--client", "10.63.0.0/16", "--lists", "l63"})
			})
			must(t, "group add", err)
			for _, c := range []struct{ name, client, want, list string }{
				{"last.example", "10.63.1.1", "block", "l63"},
				{"both.example", "10.63.1.1", "block", "l63"},
				{"seven.example", "10.63.1.1", "pass", ""},
				{"forty.example", "10.63.1.1", "pass", ""},
				{"forty.example", "192.0.2.1", "block", "l40"},
				{"seven.example", "192.0.2.1", "block", "l7"},
			} {
				e := decideAs(t, db, c.name, c.client)
				if e.verdict.Action.String() != c.want || e.list != c.list {
					t.Errorf("explain --client %s %s = %s (list %q), want %s (%q)", c.client, c.name, e.verdict.Action, e.list, c.want, c.list)
				}
			}
			// Re-import l63 without gone.example and last.example.
			imp("l63", "both.example", "new.example")
			want["gone.example"], want["last.example"], want["new.example"] = 0, 0, l63
			check("after the re-import of l63")
			_, err = captured(t, func() error { return runList([]string{"remove", db, "l7"}) })
			must(t, "list remove l7", err)
			want["seven.example"], want["both.example"] = 0, l63
			check("after list remove l7")
			if got := stored(t, db, l, "both.example"); got != -64 {
				t.Errorf("both.example, left in l63 alone, stored as %d, want -64", got)
			}
			other := schema.Normalized
			if l == schema.Normalized {
				other = schema.PerType
			}
			moved := filepath.Join(t.TempDir(), "moved.db")
			must(t, "migrate", runMigrate([]string{db, moved}))
			for key, m := range want {
				if got := membership(t, moved, other, schema.BlockWildcard, key); got != m {
					t.Errorf("migrated: %s in lists %#x, want %#x", key, uint64(got), uint64(m))
				}
			}
			if got := stored(t, moved, other, "forty.example"); got != -41 {
				t.Errorf("migrated: forty.example stored as %d, want -41", got)
			}
			if l != schema.PerType {
				return
			}
			shards := []string{filepath.Join(t.TempDir(), "s0.db"), filepath.Join(t.TempDir(), "s1.db"), filepath.Join(t.TempDir(), "s2.db")}
			must(t, "split", runSplit(append([]string{db}, shards...)))
			for key, m := range want {
				if got := membership(t, shards[schema.ShardOf(key, len(shards))], l, schema.BlockWildcard, key); got != m {
					t.Errorf("split: %s in lists %#x in its shard, want %#x", key, uint64(got), uint64(m))
				}
			}
			sh, err := store.OpenShards(shards, explainOptions)
			must(t, "open the shards", err)
			defer sh.Close()
			for _, c := range []struct{ name, client, want string }{
				{"both.example", "10.63.1.1", "block"},
				{"forty.example", "10.63.1.1", "pass"},
				{"forty.example", "192.0.2.1", "block"},
			} {
				e, err := explainFor(sh, c.name, netip.MustParseAddr(c.client), explainAnswer{})
				must(t, "explain over the shards", err)
				if e.verdict.Action.String() != c.want {
					t.Errorf("shards: %s for %s = %s, want %s", c.name, c.client, e.verdict.Action, c.want)
				}
			}
		})
	}
}

// A version 3 file (plain masks) is encoded by the first command that
// writes to it, with its memberships as they were.
func TestWritingToAVersion3FileEncodesIt(t *testing.T) {
	for _, l := range []schema.Layout{schema.PerType, schema.Normalized} {
		t.Run(l.String(), func(t *testing.T) {
			set := "UPDATE block_wildcard SET lists = %d WHERE Domain = '%s'"
			if l == schema.Normalized {
				set = "UPDATE records SET lists = %d WHERE domain_id = (SELECT domain_id FROM domains WHERE domain = '%s')"
			}
			db := testkit.WithPlainLists(t, testkit.NewDB(t, l, "wal", testkit.BlockWildcard("forty.example", "both.example")...),
				"INSERT INTO sqlitefilter_lists (id, name) VALUES (40, 'l40'), (63, 'l63')",
				fmt.Sprintf(set, int64(1)<<40, "forty.example"),
				fmt.Sprintf(set, int64(1)<<40|1, "both.example"))
			if e := decideAs(t, db, "forty.example", ""); e.list != "l40" {
				t.Errorf("explain of the version 3 file: list %q, want l40", e.list)
			}
			_, err := captured(t, func() error {
				return runImport([]string{db, "--table", "block_wildcard", "--list", "l63", listFile(t, "forty.example")})
			})
			must(t, "import --list l63", err)
			for key, m := range map[string]int64{"forty.example": 1<<40 | -1<<63, "both.example": 1<<40 | 1} {
				if got := membership(t, db, l, schema.BlockWildcard, key); got != m {
					t.Errorf("%s in lists %#x, want %#x", key, uint64(got), uint64(m))
				}
			}
			if e := decideAs(t, db, "both.example", ""); e.list != "default" {
				t.Errorf("explain after the import: list %q, want default", e.list)
			}
		})
	}
}
