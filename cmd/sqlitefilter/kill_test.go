package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// startImport runs `sqlitefilter import` in a subprocess.
func startImport(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"import"}, args...)...)
	cmd.Env = append(os.Environ(), "SQLITEFILTER_TEST_MAIN=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func bigList(t *testing.T, n int) string {
	t.Helper()
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "host-%d.killed-import.example\n", i)
	}
	return writeFile(t, "big.txt", b.Bytes())
}

func count(t *testing.T, path, table string) int {
	t.Helper()
	db := testkit.OpenRO(t, path)
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// importWait bounds the wait for an import in a subprocess to make progress,
// under the race detector on a loaded machine.
const importWait = 60 * time.Second

// The killed import: small batches, so the kill lands after some commits and
// long before the end even under the race detector.
const (
	killLines = 300000
	killBatch = 1000
)

// previousRows is the data an import must not lose.
var previousRows = testkit.Rows(testkit.BlockExact("previous.example"), testkit.Allow("allowed.example"))

func TestKilledImportKeepsPreviousDataAndPassesCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("imports in a subprocess")
	}
	for _, l := range []schema.Layout{schema.PerType, schema.Normalized} {
		t.Run(l.String(), func(t *testing.T) {
			db := testkit.NewDB(t, l, "wal", previousRows...)
			cmd := startImport(t, db, "--batch", strconv.Itoa(killBatch), "--table", "block_exact", bigList(t, killLines))
			// Kill it once at least one batch is committed and more are coming.
			testkit.Eventually(t, "a committed batch", importWait, func() bool { return count(t, db, "block_exact") > 1 })
			cmd.Process.Kill()
			cmd.Wait()
			n := count(t, db, "block_exact")
			if n >= killLines+1 {
				t.Skip("the import finished before it was killed; nothing tested")
			}
			if got := rows(t, db, schema.Allow); len(got) != 1 || got[0] != "allowed.example" {
				t.Errorf("previous allow rows: %q", got)
			}
			if !strings.Contains(strings.Join(rows(t, db, schema.BlockExact), " "), "previous.example") {
				t.Error("previous block_exact row lost")
			}
			if (n-1)%killBatch != 0 {
				t.Errorf("%d new rows: not a whole number of batches", n-1)
			}
			if err := runCheck([]string{db}); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestKilledReplaceLeavesOldFileUntouched(t *testing.T) {
	if testing.Short() {
		t.Skip("imports in a subprocess")
	}
	db := testkit.NewDB(t, schema.PerType, "wal", previousRows...)
	before := fileHash(t, db)
	cmd := startImport(t, db, "--replace", "--batch", strconv.Itoa(killBatch), "--table", "block_exact", bigList(t, killLines))
	var tmp string
	testkit.Eventually(t, "the replacement file to grow", importWait, func() bool {
		m, _ := filepath.Glob(db + ".new-*")
		if len(m) == 0 {
			return false
		}
		tmp = m[0]
		st, err := os.Stat(tmp)
		return err == nil && st.Size() > 1<<20
	})
	cmd.Process.Kill()
	if cmd.Wait() == nil {
		t.Skip("the import finished before it was killed; nothing tested")
	}
	if fileHash(t, db) != before {
		t.Error("the old database changed")
	}
	if err := runCheck([]string{db}); err != nil {
		t.Error(err)
	}
	if got := rows(t, db, schema.BlockExact); len(got) != 1 || got[0] != "previous.example" {
		t.Errorf("block_exact after a killed replace: %q", got)
	}
	// The next --replace removes what the killed one left.
	_, errOut, err := importInto(t, db, schema.BlockExact, formatPlain, true, writeFile(t, "next.txt", []byte("next.example\n")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "left by an import that was killed") {
		t.Errorf("stale file not reported: %q", errOut)
	}
	if _, err := os.Stat(tmp); err == nil {
		t.Errorf("%s left behind", tmp)
	}
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}
