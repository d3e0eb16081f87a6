package schema

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func newDB(t *testing.T, l Layout, script string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.db")
	if err := CreateLayout(path, l); err != nil {
		t.Fatal(err)
	}
	if script != "" {
		db := open(t, path)
		if _, err := db.Exec(script); err != nil {
			t.Fatalf("%s: %v", script, err)
		}
	}
	return path
}

func open(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", DSN(path, "mode=rw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// legacyRows is a script in the per-type vocabulary that must work on both
// layouts.
const legacyRows = `
INSERT INTO block_exact VALUES ('ads.example.com');
INSERT INTO block_wildcard VALUES ('doubleclick.net'), ('ads.example.com');
INSERT INTO block_regex VALUES ('^\d+\.example$'), ('^\D+\.example$');
INSERT INTO fqdn_dns_allow VALUES ('good.doubleclick.net');
INSERT INTO fqdn_dns_block VALUES ('upstream.example');
INSERT INTO domain_alias VALUES ('intel.com', 'keweon.center');
INSERT INTO ip_rewrite_v4 VALUES ('192.0.2.1', '198.51.100.1');
INSERT INTO ip_rewrite_v6 VALUES ('2001:db8::1', '2001:db8::2');
INSERT INTO block_exact VALUES ('x''; DROP TABLE domains; --');
`

func TestDetectReportsTheLayoutCreated(t *testing.T) {
	for _, l := range []Layout{PerType, Normalized} {
		db := open(t, newDB(t, l, ""))
		got, err := Detect(db)
		if err != nil || got != l {
			t.Errorf("Detect(%s) = %s, %v", l, got, err)
		}
		v, err := SchemaVersion(db)
		if err != nil || v != Version {
			t.Errorf("SchemaVersion(%s) = %d, %v; want %d", l, v, err, Version)
		}
	}
}

func TestDetectRejectsMixedLayout(t *testing.T) {
	db := open(t, newDB(t, Normalized, "CREATE TABLE block_exact2 (x); DROP VIEW block_exact; CREATE TABLE block_exact (Domain TEXT PRIMARY KEY)"))
	if _, err := Detect(db); err == nil {
		t.Fatal("Detect accepted a database with both layouts")
	}
}

func TestDetectHandMadeDatabaseIsPerTypeVersionZero(t *testing.T) {
	db, err := sql.Open("sqlite3", DSN(filepath.Join(t.TempDir(), "legacy.db"), "mode=rwc"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE block_exact (Domain TEXT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if l, err := Detect(db); err != nil || l != PerType {
		t.Errorf("Detect = %s, %v", l, err)
	}
	if v, err := SchemaVersion(db); err != nil || v != 0 {
		t.Errorf("SchemaVersion = %d, %v", v, err)
	}
}

func TestLegacyScriptGivesSameRowsInBothLayouts(t *testing.T) {
	a := newDB(t, PerType, legacyRows)
	b := newDB(t, Normalized, legacyRows)
	if err := Verify(a, b); err != nil {
		t.Fatal(err)
	}
}

func TestNormalizedViewsRejectDuplicatesLikePerTypeTables(t *testing.T) {
	for _, l := range []Layout{PerType, Normalized} {
		db := open(t, newDB(t, l, legacyRows))
		if _, err := db.Exec("INSERT INTO block_exact VALUES ('ads.example.com')"); err == nil || !strings.Contains(err.Error(), "UNIQUE") {
			t.Errorf("%s: duplicate insert: %v, want UNIQUE error", l, err)
		}
		if _, err := db.Exec("INSERT OR IGNORE INTO block_exact VALUES ('ads.example.com')"); err != nil {
			t.Errorf("%s: INSERT OR IGNORE: %v", l, err)
		}
		if _, err := db.Exec("INSERT OR REPLACE INTO domain_alias VALUES ('intel.com', 'other.example')"); err != nil {
			t.Errorf("%s: INSERT OR REPLACE: %v", l, err)
		}
		var target string
		if err := db.QueryRow("SELECT Target_Domain FROM domain_alias WHERE Source_Domain = 'intel.com'").Scan(&target); err != nil || target != "other.example" {
			t.Errorf("%s: alias after replace = %q, %v", l, target, err)
		}
		if _, err := db.Exec("INSERT INTO domain_alias VALUES ('a.example', NULL)"); err == nil {
			t.Errorf("%s: alias without target accepted", l)
		}
	}
}

func TestNormalizedDeleteRemovesUnusedNames(t *testing.T) {
	db := open(t, newDB(t, Normalized, legacyRows))
	if _, err := db.Exec("DELETE FROM block_exact WHERE Domain = 'ads.example.com'"); err != nil {
		t.Fatal(err)
	}
	var n int
	db.QueryRow("SELECT count(*) FROM domains WHERE domain = 'ads.example.com'").Scan(&n)
	if n != 1 {
		t.Fatalf("name still used by block_wildcard was removed (count %d)", n)
	}
	if _, err := db.Exec("DELETE FROM block_wildcard WHERE Domain = 'ads.example.com'"); err != nil {
		t.Fatal(err)
	}
	db.QueryRow("SELECT count(*) FROM domains WHERE domain = 'ads.example.com'").Scan(&n)
	if n != 0 {
		t.Fatalf("unused name kept (count %d)", n)
	}
	db.QueryRow("SELECT count(*) FROM block_wildcard").Scan(&n)
	if n != 1 {
		t.Fatalf("block_wildcard has %d rows, want 1", n)
	}
}

func TestMigrateRoundTripIsVerifiedRowForRow(t *testing.T) {
	src := newDB(t, PerType, legacyRows)
	dir := t.TempDir()
	norm, back := filepath.Join(dir, "norm.db"), filepath.Join(dir, "back.db")
	if err := Migrate(src, norm, Normalized, false); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(norm, back, PerType, false); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]Layout{norm: Normalized, back: PerType} {
		if l, err := Detect(open(t, path)); err != nil || l != want {
			t.Errorf("%s: layout %s, %v", path, l, err)
		}
		if err := Verify(src, path); err != nil {
			t.Error(err)
		}
	}
}

func TestMigrateRefusesExistingDestination(t *testing.T) {
	src := newDB(t, PerType, legacyRows)
	dst := newDB(t, PerType, "")
	if err := Migrate(src, dst, Normalized, false); err == nil {
		t.Fatal("migrate overwrote an existing file")
	}
	if l, _ := Detect(open(t, dst)); l != PerType {
		t.Fatal("destination changed")
	}
}

func TestVerifyFindsEachKindOfDifference(t *testing.T) {
	base := newDB(t, PerType, legacyRows)
	for name, change := range map[string]string{
		"missing row":    "DELETE FROM block_regex WHERE Pattern = '^\\d+\\.example$'",
		"extra row":      "INSERT INTO fqdn_dns_block VALUES ('more.example')",
		"changed target": "UPDATE ip_rewrite_v4 SET Target_IPv4 = '198.51.100.9'",
	} {
		t.Run(name, func(t *testing.T) {
			other := newDB(t, Normalized, legacyRows+change)
			if err := Verify(base, other); !errors.Is(err, errMismatch) {
				t.Fatalf("Verify = %v, want a mismatch", err)
			}
		})
	}
}
