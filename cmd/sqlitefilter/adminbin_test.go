package main

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// Helpers for the tests that run the admin command as a real process (built
// with go build), for what only a process shows: signals, exit codes, the
// umask, a file size limit.

// buildAdmin builds the admin command into a temporary directory and
// returns its path.
func buildAdmin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the admin command")
	}
	bin := filepath.Join(t.TempDir(), "sqlitefilter")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// adminResult is how a finished admin process ended.
type adminResult struct {
	code           int
	stdout, stderr string
}

// runAdmin runs cmd to its end and returns its exit code and output.
func runAdmin(t *testing.T, cmd *exec.Cmd) adminResult {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return adminResult{cmd.ProcessState.ExitCode(), out.String(), errOut.String()}
}

// seedDB creates a per-type database at path and runs script in it.
func seedDB(t *testing.T, path, script string) {
	t.Helper()
	if err := schema.Create(path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", schema.DSN(path, "mode=rw"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(script); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// tableRows counts the rows of table in the database at path.
func tableRows(t *testing.T, path, table string) int {
	t.Helper()
	db, err := sql.Open("sqlite3", schema.DSN(path, "mode=ro&_busy_timeout=5000"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return n
}

// eventually polls cond every 10 ms until it holds, failing the test after
// 60 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tempFiles lists the replacement files (PATH.new-PID and their journals)
// left next to path.
func tempFiles(path string) []string {
	m, _ := filepath.Glob(path + ".new-*")
	return m
}

// contents reads a file, failing the test when it cannot.
func contents(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
