package schema_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// The values are fixed forever: they say where existing shard files keep
// their rows. A change of ShardOf must fail here.
func TestShardOfIsStable(t *testing.T) {
	tests := []struct {
		key              string
		wantMod2, want16 int
	}{
		{"example.com", 0, 6},
		{"doubleclick.net", 1, 13},
		{"ads.example.com", 0, 14},
		{"xn--bcher-kva.example", 0, 4},
		{"2001:db8::1", 1, 7},
	}
	for _, tc := range tests {
		if got := schema.ShardOf(tc.key, 2); got != tc.wantMod2 {
			t.Errorf("ShardOf(%q, 2) = %d, want %d", tc.key, got, tc.wantMod2)
		}
		if got := schema.ShardOf(tc.key, 16); got != tc.want16 {
			t.Errorf("ShardOf(%q, 16) = %d, want %d", tc.key, got, tc.want16)
		}
		if got := schema.ShardOf(tc.key, 1); got != 0 {
			t.Errorf("ShardOf(%q, 1) = %d, want 0", tc.key, got)
		}
	}
}

func TestSplitPutsEveryRowInItsShardAndLosesNone(t *testing.T) {
	for _, layout := range layouts {
		t.Run(layout.String(), func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src.db")
			testkit.CreateDB(t, src, layout, "wal")
			testkit.ExecSQL(t, src,
				"INSERT INTO block_exact (Domain) VALUES ('ads.example.com'), ('a.example.org'), ('b.example.org'), ('c.example.org')",
				"INSERT INTO block_wildcard (Domain) VALUES ('doubleclick.net'), ('example.com'), ('tracker.example'), ('x.y.z')",
				"INSERT INTO fqdn_dns_allow (Domain) VALUES ('good.doubleclick.net')",
				"INSERT INTO fqdn_dns_block (Domain) VALUES ('malware.example')",
				"INSERT INTO domain_alias (Source_Domain, Target_Domain) VALUES ('intel.com', 'keweon.center'), ('a.example', 'b.example')",
				"INSERT INTO block_regex (Pattern) VALUES ('^ad[0-9]+\\.'), ('tracking')",
				"INSERT INTO ip_rewrite_v4 (Source_IPv4, Target_IPv4) VALUES ('192.0.2.1', '198.51.100.1')",
				"INSERT INTO ip_rewrite_v6 (Source_IPv6, Target_IPv6) VALUES ('2001:db8::1', '2001:db8::2')",
			)
			want := tableRows(t, src)

			const n = 3
			dsts := shardPaths(dir, n)
			if err := schema.Split(src, dsts); err != nil {
				t.Fatal(err)
			}
			got := map[schema.Table][]row{}
			for i, dst := range dsts {
				for _, suffix := range []string{"-wal", "-shm", "-journal"} {
					if _, err := os.Stat(dst + suffix); err == nil {
						t.Errorf("%s%s left next to the shard", dst, suffix)
					}
				}
				if mode := journalMode(t, dst); mode != "delete" {
					t.Errorf("shard %d in journal mode %s, want delete (safe to rename over a live file)", i, mode)
				}
				for tbl, rows := range tableRows(t, dst) {
					for _, r := range rows {
						wantShard := schema.ShardOf(r.key, n)
						if schema.InMemoryTable(tbl) {
							wantShard = 0
						}
						if i != wantShard {
							t.Errorf("%s %q in shard %d, want %d", tbl, r.key, i, wantShard)
						}
					}
					got[tbl] = append(got[tbl], rows...)
				}
			}
			for _, tbl := range schema.Tables {
				if !sameRows(got[tbl], want[tbl]) {
					t.Errorf("%s: shards hold %v, source %v", tbl, got[tbl], want[tbl])
				}
			}
		})
	}
}

func TestFailedSplitLeavesTheDestinationsAlone(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "shard-0.db")
	if err := os.WriteFile(dst, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := schema.Split(filepath.Join(dir, "missing.db"), []string{dst, filepath.Join(dir, "shard-1.db")}); err == nil {
		t.Fatal("split of a missing database succeeded")
	}
	if b, _ := os.ReadFile(dst); string(b) != "old" {
		t.Errorf("destination changed to %q", b)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.new-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

type row struct{ key, target string }

func tableRows(t *testing.T, path string) map[schema.Table][]row {
	t.Helper()
	db := testkit.OpenRO(t, path)
	defer db.Close()
	present, err := schema.Present(db)
	if err != nil {
		t.Fatal(err)
	}
	out := map[schema.Table][]row{}
	for _, tbl := range schema.Tables {
		if !present[tbl] {
			continue
		}
		target := "''"
		if tbl.TargetColumn() != "" {
			target = tbl.TargetColumn()
		}
		rows, err := db.Query("SELECT " + tbl.KeyColumn() + ", " + target + " FROM " + tbl.Name())
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.key, &r.target); err != nil {
				t.Fatal(err)
			}
			out[tbl] = append(out[tbl], r)
		}
		rows.Close()
	}
	return out
}

func sameRows(a, b []row) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[row]int{}
	for _, r := range a {
		count[r]++
	}
	for _, r := range b {
		count[r]--
	}
	for _, c := range count {
		if c != 0 {
			return false
		}
	}
	return true
}

func journalMode(t *testing.T, path string) string {
	t.Helper()
	db := testkit.OpenRO(t, path)
	defer db.Close()
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	return mode
}

// A file with lists splits into shards whose rows keep their lists, with the
// lists and groups in shard 0 (where the plugin reads them) and nowhere else.
func TestSplitKeepsListsAndGroups(t *testing.T) {
	for _, layout := range layouts {
		t.Run(layout.String(), func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src.db")
			testkit.CreateDB(t, src, layout, "wal")
			testkit.WithLists(t, src)
			names := []string{"doubleclick.net", "example.com", "tracker.example", "x.y.z", "ads.example.org"}
			for i, n := range names {
				testkit.ExecSQL(t, src, fmt.Sprintf("INSERT INTO block_wildcard (Domain) VALUES ('%s')", n))
				mask := fmt.Sprint(1 << (i % 3))
				if layout == schema.Normalized {
					testkit.ExecSQL(t, src, "UPDATE records SET lists = "+mask+" WHERE domain_id = (SELECT domain_id FROM domains WHERE domain = '"+n+"')")
				} else {
					testkit.ExecSQL(t, src, "UPDATE block_wildcard SET lists = "+mask+" WHERE Domain = '"+n+"'")
				}
			}
			testkit.ExecSQL(t, src,
				"INSERT INTO sqlitefilter_lists (id, name, enabled, url, format) VALUES (1, 'ads', 0, 'https://lists.example/ads.txt', 'hosts'), (2, 'kids', 1, NULL, NULL)",
				"INSERT INTO sqlitefilter_groups (name, lists, paused_until) VALUES ('kids', 5, 42)",
				"INSERT INTO sqlitefilter_group_clients VALUES ('10.1.0.0/16', 'kids')")
			const n = 3
			dsts := shardPaths(dir, n)
			if err := schema.Split(src, dsts); err != nil {
				t.Fatal(err)
			}
			for i, n := range names {
				shard := dsts[schema.ShardOf(n, len(dsts))]
				if got, want := queryString(t, shard, "SELECT lists FROM block_wildcard WHERE Domain = '"+n+"'"), fmt.Sprint(1<<(i%3)); got != want {
					t.Errorf("%s: lists %s in its shard, want %s", n, got, want)
				}
			}
			for q, want := range map[string]string{
				"SELECT group_concat(id || ':' || name || ':' || enabled || ':' || coalesce(url, '') || ':' || coalesce(format, ''), ' ') FROM (SELECT * FROM sqlitefilter_lists ORDER BY id)": "0:default:1:: 1:ads:0:https://lists.example/ads.txt:hosts 2:kids:1::",
				"SELECT name || ':' || lists || ':' || paused_until FROM sqlitefilter_groups":                                                                                                  "kids:5:42",
				"SELECT prefix || ':' || group_name FROM sqlitefilter_group_clients":                                                                                                           "10.1.0.0/16:kids",
			} {
				if got := queryString(t, dsts[0], q); got != want {
					t.Errorf("shard 0: %s = %q, want %q", q, got, want)
				}
			}
			for _, dst := range dsts[1:] {
				if got := queryString(t, dst, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'sqlitefilter_group%' OR name = 'sqlitefilter_lists'"); got != "0" {
					t.Errorf("%s has %s lists tables, want none (shard 0 holds them)", dst, got)
				}
			}
		})
	}
}

func queryString(t *testing.T, path, q string) string {
	t.Helper()
	db := testkit.OpenRO(t, path)
	defer db.Close()
	var s string
	if err := db.QueryRow(q).Scan(&s); err != nil {
		t.Fatalf("%s: %s: %v", path, q, err)
	}
	return s
}

// shardPaths are the paths of n shards in dir.
func shardPaths(dir string, n int) []string {
	var dsts []string
	for i := range n {
		dsts = append(dsts, filepath.Join(dir, fmt.Sprintf("shard-%d.db", i)))
	}
	return dsts
}
