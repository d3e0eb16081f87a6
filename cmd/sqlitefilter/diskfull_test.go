package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestImportIntoAFullDisk runs an import that cannot fit, into a 2 MiB
// tmpfs (when this machine lets the test mount one) and under a 1 MiB file
// size limit (ulimit -f): the old rows stay and pass check, the error says
// which file could not grow and why, and --replace leaves no temporary file.
func TestImportIntoAFullDisk(t *testing.T) {
	bin := buildAdmin(t)
	var list bytes.Buffer
	for i := range 200_000 {
		fmt.Fprintf(&list, "host-%d.disk-full.example\n", i)
	}
	listPath := filepath.Join(t.TempDir(), "big.txt")
	if err := os.WriteFile(listPath, list.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	limits := []struct {
		name  string
		dir   func(t *testing.T) string
		wrap  func(args ...string) *exec.Cmd
		cause string
	}{
		{"tmpfs", smallTmpfs, func(args ...string) *exec.Cmd { return exec.Command(bin, args...) }, "database or disk is full"},
		{"ulimit", func(t *testing.T) string { return t.TempDir() }, func(args ...string) *exec.Cmd {
			// 2048 blocks of 512 bytes (dash's unit): far below what the list needs.
			return exec.Command("sh", append([]string{"-c", `ulimit -f 2048; exec "$0" "$@"`, bin}, args...)...)
		}, "file too large"},
	}
	for _, l := range limits {
		for _, replace := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s replace=%v", l.name, replace), func(t *testing.T) {
				db := filepath.Join(l.dir(t), "full.db")
				seedDB(t, db, seedRows)
				args := []string{"import", db, "--table", "block_exact", listPath}
				if replace {
					args = append(args, "--replace")
				}
				r := runAdmin(t, l.wrap(args...))
				if r.code != 1 {
					t.Fatalf("exit %d, want 1; stderr: %s", r.code, r.stderr)
				}
				for _, want := range []string{db, "the disk is full or the file size limit (ulimit -f) was reached", l.cause} {
					if !strings.Contains(r.stderr, want) {
						t.Errorf("stderr %q does not say %q", r.stderr, want)
					}
				}
				if n := tableRows(t, db, "block_exact"); n != 1 {
					t.Errorf("block_exact has %d rows, want the 1 from before", n)
				}
				if n := tableRows(t, db, "fqdn_dns_allow"); n != 1 {
					t.Errorf("fqdn_dns_allow has %d rows, want the 1 from before", n)
				}
				if left := tempFiles(db); len(left) > 0 {
					t.Errorf("left behind: %v", left)
				}
				if c := runAdmin(t, exec.Command(bin, "check", db)); c.code != 0 {
					t.Errorf("check: exit %d: %s%s", c.code, c.stdout, c.stderr)
				}
			})
		}
	}
}

// smallTmpfs mounts a 2 MiB tmpfs for the test, or skips it when mounting
// is not permitted here.
func smallTmpfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); the ulimit case covers a refused write", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	return dir
}
