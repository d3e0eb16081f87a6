package schema_test

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// version1 turns a new database into what schema version 1 created: no
// block_ip tables, records admitting only the eight first record types.
func version1(t *testing.T, path string, l schema.Layout) {
	t.Helper()
	db := testkit.OpenRW(t, path)
	defer db.Close()
	if l == schema.PerType {
		mustExec(t, db, "DROP TABLE block_ip_v4; DROP TABLE block_ip_v6")
	} else {
		mustExec(t, db, "DROP VIEW block_ip_v4; DROP VIEW block_ip_v6")
		var ddl string
		if err := db.QueryRow(`SELECT sql FROM sqlite_schema WHERE name = 'records'`).Scan(&ddl); err != nil {
			t.Fatal(err)
		}
		old := strings.Replace(ddl, ",\n        'block_ip_v4', 'block_ip_v6'", "", 1)
		if old == ddl {
			t.Fatalf("records DDL has no block_ip record types: %s", ddl)
		}
		mustExec(t, db, "PRAGMA writable_schema = ON")
		if _, err := db.Exec(`UPDATE sqlite_schema SET sql = ? WHERE name = 'records'`, old); err != nil {
			t.Fatal(err)
		}
		mustExec(t, db, "PRAGMA writable_schema = RESET")
	}
	mustExec(t, db, "UPDATE sqlitefilter_meta SET value = '1' WHERE key = 'schema_version'")
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestUpgradeAddsTheBlockedAddressTablesToAVersion1File(t *testing.T) {
	for _, l := range layouts {
		t.Run(l.String(), func(t *testing.T) {
			path := legacyDB(t, l)
			version1(t, path, l)
			db := testkit.OpenRW(t, path)
			defer db.Close()
			if _, err := db.Exec("INSERT INTO records (domain_id, record_type) VALUES (1, 'block_ip_v4')"); l == schema.Normalized && err == nil {
				t.Fatal("a version 1 records table admits block_ip_v4")
			}
			for range 2 { // a second upgrade changes nothing
				if err := schema.UpgradeAnswers(db); err != nil {
					t.Fatal(err)
				}
			}
			if v, err := schema.SchemaVersion(db); err != nil || v != schema.AnswersVersion {
				t.Errorf("SchemaVersion = %d, %v; want %d", v, err, schema.AnswersVersion)
			}
			if has, err := schema.HasListsColumn(db); err != nil || has {
				t.Errorf("HasListsColumn after UpgradeAnswers = %v, %v; want false (lists are Upgrade's)", has, err)
			}
			mustExec(t, db, "INSERT INTO block_ip_v4 VALUES ('192.0.2.0/24'); INSERT INTO block_ip_v6 VALUES ('2001:db8::66')")
			var n int
			if err := db.QueryRow("SELECT (SELECT count(*) FROM block_ip_v4) + (SELECT count(*) FROM block_ip_v6) + (SELECT count(*) FROM block_exact)").Scan(&n); err != nil || n != 4 {
				t.Errorf("rows after the upgrade = %d, %v; want 4 (2 addresses, the 2 block_exact rows kept)", n, err)
			}
			var ok string
			if err := db.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
				t.Errorf("integrity_check = %q, %v", ok, err)
			}
		})
	}
}

// Upgrade brings a version 1 file to the newest version in one call: the
// blocked answer addresses, then the lists, with every rule table (the
// block_ip ones included) carrying the lists column.
func TestUpgradeBringsAVersion1FileToTheNewestVersion(t *testing.T) {
	for _, l := range layouts {
		t.Run(l.String(), func(t *testing.T) {
			path := legacyDB(t, l)
			version1(t, path, l)
			db := testkit.OpenRW(t, path)
			defer db.Close()
			for i := range 2 {
				changed, err := schema.Upgrade(db)
				if err != nil {
					t.Fatal(err)
				}
				if changed != (i == 0) {
					t.Errorf("Upgrade #%d changed = %v", i+1, changed)
				}
			}
			if v, err := schema.SchemaVersion(db); err != nil || v != schema.Version {
				t.Errorf("SchemaVersion = %d, %v; want %d", v, err, schema.Version)
			}
			if has, err := schema.HasListTables(db); err != nil || !has {
				t.Errorf("HasListTables = %v, %v", has, err)
			}
			if l == schema.PerType {
				mustExec(t, db, "INSERT INTO block_ip_v4 (Address, lists) VALUES ('192.0.2.0/24', 2)")
			} else {
				mustExec(t, db, "INSERT INTO block_ip_v4 VALUES ('192.0.2.0/24')")
			}
			var ok string
			if err := db.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
				t.Errorf("integrity_check = %q, %v", ok, err)
			}
		})
	}
}

// A per-type file given lists before it had the block_ip tables (Upgrade of
// the lists alone, as before version 2) gets them with the lists column.
func TestUpgradeAnswersKeepsEveryTableListed(t *testing.T) {
	path := legacyDB(t, schema.PerType)
	version1(t, path, schema.PerType)
	db := testkit.OpenRW(t, path)
	defer db.Close()
	for _, tb := range schema.Tables {
		if tb == schema.BlockIPv4 || tb == schema.BlockIPv6 {
			continue
		}
		mustExec(t, db, "ALTER TABLE "+tb.Name()+" ADD COLUMN lists INTEGER NOT NULL DEFAULT 1")
	}
	if err := schema.UpgradeAnswers(db); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "INSERT INTO block_ip_v6 (Address, lists) VALUES ('2001:db8::1', 3)")
	if v, err := schema.SchemaVersion(db); err != nil || v != schema.ListsVersion {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, schema.ListsVersion)
	}
}
