package testkit

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// OpenFiles counts the open descriptors of process pid whose target (as
// /proc/PID/fd shows it) matches, to find connections a server leaks.
func OpenFiles(t testing.TB, pid int, match func(target string) bool) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && match(target) {
			n++
		}
	}
	return n
}

// DBFiles counts the process's descriptors on the database file itself:
// one per open SQLite connection.
func DBFiles(t testing.TB, pid int, db string) int {
	t.Helper()
	return OpenFiles(t, pid, func(target string) bool { return target == db })
}

// FilesUnder counts the process's descriptors whose target starts with
// prefix: given a database, the file with its -wal and -shm, including
// replaced or deleted ones ("PATH (deleted)"); given a directory, every
// file in it.
func FilesUnder(t testing.TB, pid int, prefix string) int {
	t.Helper()
	return OpenFiles(t, pid, func(target string) bool { return strings.HasPrefix(target, prefix) })
}
