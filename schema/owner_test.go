package schema

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// newFile writes a file with mode and owner, skipping the test where chown
// is not permitted.
func newFile(t *testing.T, path string, mode os.FileMode, uid, gid int) {
	t.Helper()
	if err := os.WriteFile(path, []byte(path), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, gid); err != nil {
		t.Skipf("chown not permitted here: %v", err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func attrs(t *testing.T, path string) (os.FileMode, uint32, uint32) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	return st.Mode().Perm(), sys.Uid, sys.Gid
}

func TestReplaceFromKeepsModeOwnerAndGroup(t *testing.T) {
	dir := t.TempDir()
	old, src := filepath.Join(dir, "old.db"), filepath.Join(dir, "src.db")
	newFile(t, old, 0o640, 1, 1)
	newFile(t, src, 0o604, 2, 2)
	tests := []struct {
		name, path, src string
		mode            os.FileMode
		uid, gid        uint32
	}{
		{"replacing keeps the old file's", old, src, 0o640, 1, 1},
		{"a new file takes the source's", filepath.Join(dir, "new.db"), src, 0o604, 2, 2},
		{"a new file without a source keeps its own", filepath.Join(dir, "plain.db"), "", 0o600, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := TempPath(tt.path)
			// What a build under umask 077 by root gives.
			newFile(t, tmp, 0o600, 0, 0)
			var warnings []string
			if err := ReplaceFrom(tmp, tt.path, tt.src, func(m string) { warnings = append(warnings, m) }); err != nil {
				t.Fatal(err)
			}
			if mode, uid, gid := attrs(t, tt.path); mode != tt.mode || uid != tt.uid || gid != tt.gid {
				t.Errorf("%v %d:%d, want %v %d:%d", mode, uid, gid, tt.mode, tt.uid, tt.gid)
			}
			if len(warnings) > 0 {
				t.Errorf("warnings: %q", warnings)
			}
		})
	}
}
