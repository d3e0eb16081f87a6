package schema_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// TestInMemoryRulesAreReadThroughTheIndex: in a normalized file, the rows of
// each table the plugin holds in memory are found through the partial index
// (not a scan of every record), and a file made before the index gets it
// from Upgrade, once.
func TestInMemoryRulesAreReadThroughTheIndex(t *testing.T) {
	path := testkit.NewDB(t, schema.Normalized, "wal")
	db := testkit.OpenRW(t, path)
	defer db.Close()
	if _, err := schema.Upgrade(db); err != nil { // to lists: what follows is the index alone
		t.Fatal(err)
	}
	plan := func(tb schema.Table) string {
		t.Helper()
		rows, err := db.Query(fmt.Sprintf("EXPLAIN QUERY PLAN SELECT d.domain FROM records r JOIN domains d ON d.domain_id = r.domain_id WHERE %s", schema.InMemoryWhere(tb)))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			b.WriteString(detail + "; ")
		}
		return b.String()
	}
	for _, tb := range schema.InMemory {
		if p := plan(tb); !strings.Contains(p, "USING INDEX "+schema.InMemoryIndex) {
			t.Errorf("%s: %s", tb.Name(), p)
		}
	}
	mustExec(t, db, "DROP INDEX "+schema.InMemoryIndex)
	if p := plan(schema.BlockRegex); !strings.Contains(p, "SCAN r") {
		t.Fatalf("without the index: %s", p)
	}
	for i, want := range []bool{true, false} {
		changed, err := schema.Upgrade(db)
		if err != nil {
			t.Fatal(err)
		}
		if changed != want {
			t.Fatalf("upgrade %d reported a change %v, want %v", i+1, changed, want)
		}
	}
	if p := plan(schema.BlockRegex); !strings.Contains(p, "USING INDEX "+schema.InMemoryIndex) {
		t.Fatalf("after the upgrade: %s", p)
	}
}
