package schema_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// upgraded returns a database of layout l holding legacyRows, upgraded to
// lists.
func upgraded(t *testing.T, l schema.Layout) string {
	t.Helper()
	path := legacyDB(t, l)
	db := testkit.OpenRW(t, path)
	defer db.Close()
	changed, err := schema.Upgrade(db)
	if err != nil || !changed {
		t.Fatalf("Upgrade(%s) = %v, %v", l, changed, err)
	}
	if changed, err := schema.Upgrade(db); err != nil || changed {
		t.Fatalf("second Upgrade(%s) = %v, %v; want nothing to do", l, changed, err)
	}
	return path
}

func TestUpgradePutsEveryRowInDefault(t *testing.T) {
	for _, l := range layouts {
		path := upgraded(t, l)
		db := testkit.OpenRW(t, path)
		q := "SELECT count(*) FROM block_wildcard WHERE lists = 1"
		if l == schema.Normalized {
			q = "SELECT count(*) FROM records WHERE record_type = 'block_wildcard' AND lists = 1"
		}
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil || n != 2 {
			t.Errorf("%s: rows in default after upgrade = %d, %v; want 2", l, n, err)
		}
		var name string
		if err := db.QueryRow("SELECT name FROM sqlitefilter_lists WHERE id = 0").Scan(&name); err != nil || name != schema.DefaultList {
			t.Errorf("%s: list 0 = %q, %v", l, name, err)
		}
		db.Close()
	}
}

// TestLegacyWritesAfterUpgradeGoToDefault: the normalized views keep their
// columns, so a positional INSERT works as before; a per-type table has
// the lists column, so a script names its columns.
func TestLegacyWritesAfterUpgradeGoToDefault(t *testing.T) {
	for _, l := range layouts {
		path := upgraded(t, l)
		ins := "INSERT INTO block_exact VALUES ('new.example')"
		if l == schema.PerType {
			ins = "INSERT INTO block_exact (Domain) VALUES ('new.example')"
		}
		testkit.ExecSQL(t, path, ins+"; DELETE FROM block_exact WHERE Domain = 'ads.example.com'")
		db := testkit.OpenRW(t, path)
		q := "SELECT lists FROM block_exact WHERE Domain = 'new.example'"
		if l == schema.Normalized {
			q = "SELECT r.lists FROM records r JOIN domains d USING (domain_id) WHERE d.domain = 'new.example'"
		}
		var m int64
		if err := db.QueryRow(q).Scan(&m); err != nil || m != 1 {
			t.Errorf("%s: lists of a legacy insert = %d, %v; want 1", l, m, err)
		}
		db.Close()
	}
}

// TestShellImportAfterUpgradeGoesToDefault: the sqlite3 shell's .import of
// a file of one name per line, what scripts written for the tables without
// lists do, fills the lists column with NULL; the rows land in default.
func TestShellImportAfterUpgradeGoesToDefault(t *testing.T) {
	sqlite3, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Skip("the sqlite3 shell is not installed")
	}
	path := upgraded(t, schema.PerType)
	list := filepath.Join(t.TempDir(), "names.txt")
	if err := os.WriteFile(list, []byte("one.example\ntwo.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sqlite3, path, ".import "+list+" block_wildcard").CombinedOutput(); err != nil {
		t.Fatalf(".import: %v\n%s", err, out)
	}
	db := testkit.OpenRW(t, path)
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM block_wildcard WHERE Domain IN ('one.example', 'two.example') AND lists = 1").Scan(&n); err != nil || n != 2 {
		t.Fatalf("rows .import put in default = %d, %v; want 2", n, err)
	}
}

// TestMigrateKeepsMemberships: a migration either way copies the masks and
// the lists and groups, and Verify tells a mask that differs.
func TestMigrateKeepsMemberships(t *testing.T) {
	for _, from := range layouts {
		to := schema.Normalized
		if from == schema.Normalized {
			to = schema.PerType
		}
		src := upgraded(t, from)
		set := "UPDATE block_wildcard SET lists = -9223372036854775807 WHERE Domain = 'doubleclick.net'"
		if from == schema.Normalized {
			set = "UPDATE records SET lists = -9223372036854775807 WHERE record_type = 'block_wildcard' AND domain_id = (SELECT domain_id FROM domains WHERE domain = 'doubleclick.net')"
		}
		testkit.ExecSQL(t, src, set+`;
			INSERT INTO sqlitefilter_lists (id, name) VALUES (63, 'last');
			INSERT INTO sqlitefilter_groups (name, lists) VALUES ('kids', -9223372036854775807);
			INSERT INTO sqlitefilter_group_clients VALUES ('10.0.0.0/8', 'kids')`)
		dst := filepath.Join(t.TempDir(), "dst.db")
		if err := schema.Migrate(src, dst, to, false); err != nil {
			t.Fatalf("%s → %s: %v", from, to, err)
		}
		db := testkit.OpenRW(t, dst)
		var name, group string
		if err := db.QueryRow("SELECT l.name, c.group_name FROM sqlitefilter_lists l, sqlitefilter_group_clients c WHERE l.id = 63").Scan(&name, &group); err != nil || name != "last" || group != "kids" {
			t.Errorf("%s → %s: lists tables not copied: %q %q %v", from, to, name, group, err)
		}
		db.Close()
		// A mask changed after the copy is a difference.
		set2 := "UPDATE block_wildcard SET lists = 1"
		if to == schema.Normalized {
			set2 = "UPDATE records SET lists = 1"
		}
		testkit.ExecSQL(t, dst, set2)
		if err := schema.Verify(src, dst); err == nil {
			t.Errorf("%s → %s: Verify missed a changed mask", from, to)
		}
	}
}

func TestAddListTablesLeavesRuleTables(t *testing.T) {
	path := legacyDB(t, schema.PerType)
	db := testkit.OpenRW(t, path)
	defer db.Close()
	if changed, err := schema.AddListTables(db); err != nil || !changed {
		t.Fatalf("AddListTables = %v, %v", changed, err)
	}
	if has, err := schema.HasListsColumn(db); err != nil || has {
		t.Fatalf("HasListsColumn after AddListTables = %v, %v; want false", has, err)
	}
	if _, err := db.Exec("INSERT INTO block_exact VALUES ('still.positional')"); err != nil {
		t.Fatalf("a positional insert after AddListTables: %v", err)
	}
}
