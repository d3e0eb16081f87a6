package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// realListModule ships real third-party lists in its test data: a
// StevenBlack hosts file and AdGuard's DNS filter. They are fetched through
// the Go module proxy into the module cache, never committed here.
const realListModule = "github.com/AdguardTeam/urlfilter@v0.5.0"

// realLists returns the directory holding the module's lists, or skips the
// test when the module proxy cannot be reached.
func realLists(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("real lists: skipped in -short mode")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("real lists: no go command to fetch them with")
	}
	cmd := exec.Command("go", "mod", "download", "-json", realListModule)
	cmd.Dir = t.TempDir() // outside this module: go.mod is not touched
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("real lists: cannot fetch %s through the module proxy (%v); skipping", realListModule, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		t.Skipf("real lists: unexpected `go mod download` output: %s", out)
	}
	return filepath.Join(m.Dir, "test")
}

var summaryRE = regexp.MustCompile(`total: added (\d+), already present (\d+), invalid (\d+), skipped (\d+)`)

func summary(t *testing.T, out string) (added, present, invalid, skipped int) {
	t.Helper()
	m := summaryRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary in %q", out)
	}
	n := make([]int, 4)
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return n[0], n[1], n[2], n[3]
}

func TestImportRealLists(t *testing.T) {
	dir := realLists(t)
	tests := []struct {
		file     string
		table    schema.Table
		minAdded int
		sample   schema.Table // a table that must hold rows afterwards
	}{
		// StevenBlack hosts, ~58k lines: auto-detected as hosts.
		{"hosts", schema.BlockExact, 50000, schema.BlockExact},
		// AdGuard DNS filter, ~28k lines of ||name^ and @@||name^.
		{"adguard_sdn_filter.txt", schema.BlockWildcard, 20000, schema.Allow},
	}
	for _, tt := range tests {
		for _, l := range []schema.Layout{schema.PerType, schema.Normalized} {
			t.Run(tt.file+"/"+l.String(), func(t *testing.T) {
				db := testkit.NewDB(t, l, "wal")
				out, errOut, err := importInto(t, db, tt.table, formatAuto, false, filepath.Join(dir, tt.file))
				if err != nil {
					t.Fatal(err)
				}
				added, present, invalid, skipped := summary(t, out)
				t.Logf("%s: added %d, already present %d, invalid %d, skipped %d", tt.file, added, present, invalid, skipped)
				if added < tt.minAdded {
					t.Errorf("added %d rows, want at least %d\n%s", added, tt.minAdded, errOut)
				}
				if invalid*100 > added {
					t.Errorf("%d invalid lines for %d added: more than 1%%\n%s", invalid, added, errOut)
				}
				if len(rows(t, db, tt.sample)) == 0 {
					t.Errorf("%s is empty", tt.sample)
				}
				if err := runCheck([]string{db}); err != nil {
					t.Error(err)
				}
			})
		}
	}
}
