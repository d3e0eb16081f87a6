package schema_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// layouts lists both layouts, for tests that hold for either.
var layouts = []schema.Layout{schema.PerType, schema.Normalized}

// legacyDB creates a database of layout l holding legacyRows, written by
// running the script.
func legacyDB(t *testing.T, l schema.Layout) string {
	t.Helper()
	path := testkit.NewDB(t, l, "wal")
	testkit.ExecSQL(t, path, legacyRows)
	return path
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
	for _, l := range layouts {
		db := testkit.OpenRW(t, testkit.NewDB(t, l, "wal"))
		defer db.Close()
		got, err := schema.Detect(db)
		if err != nil || got != l {
			t.Errorf("Detect(%s) = %s, %v", l, got, err)
		}
		v, err := schema.SchemaVersion(db)
		if err != nil || v != schema.CreateVersion {
			t.Errorf("SchemaVersion(%s) = %d, %v; want %d", l, v, err, schema.CreateVersion)
		}
	}
}

func TestDetectRejectsMixedLayout(t *testing.T) {
	path := testkit.NewDB(t, schema.Normalized, "wal")
	testkit.ExecSQL(t, path, "CREATE TABLE block_exact2 (x); DROP VIEW block_exact; CREATE TABLE block_exact (Domain TEXT PRIMARY KEY)")
	db := testkit.OpenRW(t, path)
	defer db.Close()
	if _, err := schema.Detect(db); err == nil {
		t.Fatal("Detect accepted a database with both layouts")
	}
}

func TestDetectHandMadeDatabaseIsPerTypeVersionZero(t *testing.T) {
	db, err := sql.Open("sqlite3", schema.DSN(filepath.Join(t.TempDir(), "legacy.db"), "mode=rwc"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE block_exact (Domain TEXT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if l, err := schema.Detect(db); err != nil || l != schema.PerType {
		t.Errorf("Detect = %s, %v", l, err)
	}
	if v, err := schema.SchemaVersion(db); err != nil || v != 0 {
		t.Errorf("SchemaVersion = %d, %v", v, err)
	}
}

func TestLegacyScriptGivesSameRowsInBothLayouts(t *testing.T) {
	a := legacyDB(t, schema.PerType)
	b := legacyDB(t, schema.Normalized)
	if err := schema.Verify(a, b); err != nil {
		t.Fatal(err)
	}
}

func TestNormalizedViewsRejectDuplicatesLikePerTypeTables(t *testing.T) {
	for _, l := range layouts {
		db := testkit.OpenRW(t, legacyDB(t, l))
		defer db.Close()
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
	db := testkit.OpenRW(t, legacyDB(t, schema.Normalized))
	defer db.Close()
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
	src := legacyDB(t, schema.PerType)
	dir := t.TempDir()
	norm, back := filepath.Join(dir, "norm.db"), filepath.Join(dir, "back.db")
	if err := schema.Migrate(src, norm, schema.Normalized, false); err != nil {
		t.Fatal(err)
	}
	if err := schema.Migrate(norm, back, schema.PerType, false); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]schema.Layout{norm: schema.Normalized, back: schema.PerType} {
		if l, err := detect(t, path); err != nil || l != want {
			t.Errorf("%s: layout %s, %v", path, l, err)
		}
		if err := schema.Verify(src, path); err != nil {
			t.Error(err)
		}
	}
}

func TestMigrateRefusesExistingDestination(t *testing.T) {
	src := legacyDB(t, schema.PerType)
	dst := testkit.NewDB(t, schema.PerType, "wal")
	if err := schema.Migrate(src, dst, schema.Normalized, false); err == nil {
		t.Fatal("migrate overwrote an existing file")
	}
	if l, _ := detect(t, dst); l != schema.PerType {
		t.Fatal("destination changed")
	}
}

func TestVerifyFindsEachKindOfDifference(t *testing.T) {
	base := legacyDB(t, schema.PerType)
	for name, change := range map[string]string{
		"missing row":    "DELETE FROM block_regex WHERE Pattern = '^\\d+\\.example$'",
		"extra row":      "INSERT INTO fqdn_dns_block VALUES ('more.example')",
		"changed target": "UPDATE ip_rewrite_v4 SET Target_IPv4 = '198.51.100.9'",
	} {
		t.Run(name, func(t *testing.T) {
			other := legacyDB(t, schema.Normalized)
			testkit.ExecSQL(t, other, change)
			if err := schema.Verify(base, other); !errors.Is(err, schema.ErrMismatch) {
				t.Fatalf("Verify = %v, want a mismatch", err)
			}
		})
	}
}

// detect returns the layout of the database at path.
func detect(t *testing.T, path string) (schema.Layout, error) {
	t.Helper()
	db := testkit.OpenRW(t, path)
	defer db.Close()
	return schema.Detect(db)
}
