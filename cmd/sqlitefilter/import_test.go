package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func gz(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// importInto runs an import like the command line does and returns its
// standard output and error.
func importInto(t *testing.T, db string, table schema.Table, f format, replace bool, files ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	job := importJob{table: table, tableOK: true, format: f, replace: replace, batch: defaultBatch, stdout: &out, stderr: &errOut}
	err := job.run(context.Background(), db, files)
	return out.String(), errOut.String(), err
}

func rows(t *testing.T, path string, tbl schema.Table) []string {
	t.Helper()
	db := testkit.OpenRO(t, path)
	defer db.Close()
	r, err := db.Query("SELECT " + tbl.KeyColumn() + " FROM " + tbl.Name() + " ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []string
	for r.Next() {
		var s string
		r.Scan(&s)
		out = append(out, s)
	}
	return out
}

func TestImportReadsGzipBOMAndCRLF(t *testing.T) {
	list := []byte("\xef\xbb\xbf# a list\r\nAds.Example.COM.\r\n\r\ntracker.example\r\nbad;name\r\nbücher.example")
	for _, l := range []schema.Layout{schema.PerType, schema.Normalized} {
		db := testkit.NewDB(t, l, "wal")
		out, errOut, err := importInto(t, db, schema.BlockExact, formatAuto, false, writeFile(t, "list.txt.gz", gz(t, list)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "added 3, already present 0, invalid 1, skipped 0") {
			t.Errorf("%s: summary %q", l, out)
		}
		if !strings.Contains(errOut, "list.txt.gz:5:") {
			t.Errorf("%s: invalid line not reported with file:line: %q", l, errOut)
		}
		want := []string{"ads.example.com", "tracker.example", "xn--bcher-kva.example"}
		if got := rows(t, db, schema.BlockExact); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: rows %q, want %q", l, got, want)
		}
	}
}

func TestReimportNeverDuplicates(t *testing.T) {
	for _, l := range []schema.Layout{schema.PerType, schema.Normalized} {
		db := testkit.NewDB(t, l, "wal")
		file := writeFile(t, "list.txt", []byte("a.example\nb.example\na.example\n"))
		if out, _, err := importInto(t, db, schema.BlockWildcard, formatPlain, false, file); err != nil || !strings.Contains(out, "added 2, already present 1") {
			t.Fatalf("%s: first import: %q, %v", l, out, err)
		}
		if out, _, err := importInto(t, db, schema.BlockWildcard, formatPlain, false, file); err != nil || !strings.Contains(out, "added 0, already present 3") {
			t.Fatalf("%s: second import: %q, %v", l, out, err)
		}
		if got := rows(t, db, schema.BlockWildcard); len(got) != 2 {
			t.Errorf("%s: %d rows after re-import, want 2", l, len(got))
		}
	}
}

func TestImportSurvivesBadInput(t *testing.T) {
	garbage := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(garbage)
	long := append(bytes.Repeat([]byte("a"), 10<<20), '\n')
	hostile := "x'; DROP TABLE block_exact; --.example\nsemi;colon.example\n--\nselect\nfrom.where.example\n" +
		"nul\x00.example\n" + strings.Repeat("a", 64) + ".example\n" + strings.Repeat("abcdefghi.", 25) + "abcd\n"
	var list bytes.Buffer
	list.WriteString("first.example\n")
	list.Write(long)
	list.WriteString("after-long-line.example\n")
	list.Write(garbage)
	list.WriteString("\nafter-garbage.example\n")
	list.WriteString(hostile)
	list.WriteString("last.example")
	db := testkit.NewDB(t, schema.PerType, "wal", testkit.Allow("kept.example")...)
	out, errOut, err := importInto(t, db, schema.BlockExact, formatPlain, false, writeFile(t, "bad.txt", list.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(rows(t, db, schema.BlockExact), " ")
	for _, want := range []string{"first.example", "after-garbage.example", "after-long-line.example", "select", "from.where.example", "last.example"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q not imported; rows: %.300s", want, got)
		}
	}
	for _, bad := range []string{"DROP", ";", "\x00", strings.Repeat("a", 64)} {
		if strings.Contains(got, bad) {
			t.Errorf("row containing %q stored", bad)
		}
	}
	if !strings.Contains(errOut, "line longer than") || !strings.Contains(errOut, "more invalid lines not shown") {
		t.Errorf("long line or garbage not reported: %.500s", errOut)
	}
	if !strings.Contains(out, "invalid") {
		t.Errorf("summary %q", out)
	}
	if kept := rows(t, db, schema.Allow); len(kept) != 1 {
		t.Errorf("other table changed: %q", kept)
	}
	if err := runCheck([]string{db}); err != nil {
		t.Errorf("check after bad input: %v", err)
	}
}

func TestImportIsIdenticalInBothLayouts(t *testing.T) {
	file := writeFile(t, "hosts", []byte("127.0.0.1 localhost\n0.0.0.0 a.example b.example\n0.0.0.0 c.example\n"))
	adblock := writeFile(t, "filter.txt", []byte("! list\n||d.example^\n@@||ok.d.example^\nexample.com##.ad\n"))
	csv := writeFile(t, "alias.csv", []byte("Source_Domain,Target_Domain\nintel.com,keweon.center\n"))
	var dbs []string
	for _, l := range []schema.Layout{schema.PerType, schema.Normalized} {
		db := testkit.NewDB(t, l, "wal")
		for _, imp := range []struct {
			table schema.Table
			file  string
		}{{schema.BlockExact, file}, {schema.BlockWildcard, adblock}, {schema.Alias, csv}} {
			if _, errOut, err := importInto(t, db, imp.table, formatAuto, false, imp.file); err != nil || errOut != "" {
				t.Fatalf("%s: import %s: %v %s", l, imp.file, err, errOut)
			}
		}
		dbs = append(dbs, db)
	}
	if err := schema.Verify(dbs[0], dbs[1]); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, dbs[1], schema.Allow); len(got) != 1 || got[0] != "ok.d.example" {
		t.Errorf("adblock exception rows %q", got)
	}
}

func TestImportReplaceSwapsWhileAReaderIsAttached(t *testing.T) {
	db := testkit.NewDB(t, schema.PerType, "wal", testkit.Rows(testkit.BlockExact("old.example"), testkit.Allow("kept.example"))...)
	// A reader holding a snapshot, as the server's pool does, and a writer's
	// uncheckpointed frames in the -wal.
	reader := testkit.OpenRO(t, db)
	defer reader.Close()
	tx, err := reader.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM block_exact").Scan(&n); err != nil || n != 1 {
		t.Fatalf("reader: %d, %v", n, err)
	}
	if _, errOut, err := importInto(t, db, schema.BlockExact, formatPlain, false, writeFile(t, "more.txt", []byte("more.example\n"))); err != nil {
		t.Fatal(err, errOut)
	}
	if _, err := os.Stat(db + "-wal"); err != nil {
		t.Fatalf("test needs a -wal next to the old file: %v", err)
	}

	newList := strings.Repeat("filler.", 1) + "example\nnew.example\n"
	out, errOut, err := importInto(t, db, schema.BlockExact, formatPlain, true, writeFile(t, "new.txt", []byte(newList)))
	if err != nil {
		t.Fatal(err, errOut)
	}
	if !strings.Contains(out, "replaced") {
		t.Errorf("output %q", out)
	}
	if got := strings.Join(rows(t, db, schema.BlockExact), " "); got != "filler.example new.example" {
		t.Errorf("after replace block_exact = %q", got)
	}
	if got := rows(t, db, schema.Allow); len(got) != 1 || got[0] != "kept.example" {
		t.Errorf("a table the import does not write was not kept: %q", got)
	}
	if err := tx.QueryRow("SELECT count(*) FROM block_exact").Scan(&n); err != nil || n != 1 {
		t.Errorf("old reader's snapshot: %d, %v; want the old 1 row", n, err)
	}
	if err := runCheck([]string{db}); err != nil {
		t.Error(err)
	}
	matches, _ := filepath.Glob(db + ".new-*")
	if len(matches) > 0 {
		t.Errorf("temporary files left: %q", matches)
	}
}

func TestImportRefusesWrongTableForFormat(t *testing.T) {
	db := testkit.NewDB(t, schema.PerType, "wal")
	file := writeFile(t, "list.txt", []byte("a.example\n"))
	if _, _, err := importInto(t, db, schema.Alias, formatPlain, false, file); err == nil {
		t.Error("plain list accepted into domain_alias")
	}
	var out, errOut bytes.Buffer
	job := importJob{format: formatAuto, batch: defaultBatch, stdout: &out, stderr: &errOut}
	if err := job.run(context.Background(), db, []string{file}); err == nil || !strings.Contains(err.Error(), "--table") {
		t.Errorf("plain list without --table: %v", err)
	}
}
