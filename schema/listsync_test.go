package schema_test

import (
	"path/filepath"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// TestAddListSyncOnceOnAnyFile: an old file of either layout, with or
// without lists, gets the sync table the first time and is left alone the
// next, without moving the schema version.
func TestAddListSyncOnceOnAnyFile(t *testing.T) {
	for _, l := range layouts {
		for _, lists := range []bool{false, true} {
			path := legacyDB(t, l)
			if lists {
				path = upgraded(t, l)
			}
			db := testkit.OpenRW(t, path)
			before, err := schema.SchemaVersion(db)
			if err != nil {
				t.Fatal(err)
			}
			if changed, err := schema.AddListSync(db); err != nil || !changed {
				t.Errorf("%s lists=%v: first AddListSync = %v, %v; want a new table", l, lists, changed, err)
			}
			if changed, err := schema.AddListSync(db); err != nil || changed {
				t.Errorf("%s lists=%v: second AddListSync = %v, %v; want nothing to do", l, lists, changed, err)
			}
			if _, err := db.Exec("INSERT INTO sqlitefilter_list_sync (list_id, url, etag) VALUES (1, 'https://lists.example/a', '\"v1\"')"); err != nil {
				t.Errorf("%s lists=%v: insert a sync row: %v", l, lists, err)
			}
			if after, err := schema.SchemaVersion(db); err != nil || after != before {
				t.Errorf("%s lists=%v: schema version %d → %d, %v; want it unchanged", l, lists, before, after, err)
			}
			db.Close()
		}
	}
}

// TestMigrateKeepsListSync: a rebuilt file still knows its sources'
// validators, so the sync after a migration asks rather than downloads.
func TestMigrateKeepsListSync(t *testing.T) {
	for _, from := range layouts {
		src := upgraded(t, from)
		db := testkit.OpenRW(t, src)
		if _, err := schema.AddListSync(db); err != nil {
			t.Fatal(err)
		}
		db.Close()
		testkit.ExecSQL(t, src, `INSERT INTO sqlitefilter_lists (id, name, url) VALUES (1, 'ads', 'https://lists.example/ads');
			INSERT INTO sqlitefilter_list_sync (list_id, url, etag, last_modified, sha256, updated_at, status, status_at)
			VALUES (1, 'https://lists.example/ads', '"abc"', 'Mon, 02 Jan 2006 15:04:05 GMT', 'ff', 5, 'ok', 6)`)
		dst := filepath.Join(t.TempDir(), "dst.db")
		if err := schema.Migrate(src, dst, schema.Normalized, false); err != nil {
			t.Fatalf("%s: %v", from, err)
		}
		out := testkit.OpenRO(t, dst)
		var etag, lm, status string
		err := out.QueryRow("SELECT etag, last_modified, status FROM sqlitefilter_list_sync WHERE list_id = 1").Scan(&etag, &lm, &status)
		out.Close()
		if err != nil || etag != `"abc"` || lm != "Mon, 02 Jan 2006 15:04:05 GMT" || status != "ok" {
			t.Errorf("%s: sync row after migrate = %q %q %q, %v", from, etag, lm, status, err)
		}
	}
}
