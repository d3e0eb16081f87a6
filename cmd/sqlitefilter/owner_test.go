package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The owner and group the tests give a database: daemon's (1:1), not the
// test's own, so a new file that kept nothing is told from one that kept.
const keptUID, keptGID = 1, 1

// withUmask runs the admin command under umask 077, as a locked-down
// service account would.
func withUmask(bin string, args ...string) *exec.Cmd {
	return exec.Command("sh", append([]string{"-c", `umask 077; exec "$0" "$@"`, bin}, args...)...)
}

// ownedDB makes a database at path with mode and owner.
func ownedDB(t *testing.T, path string, mode os.FileMode, uid, gid int) {
	t.Helper()
	seedDB(t, path, seedRows)
	if err := os.Chown(path, uid, gid); err != nil {
		t.Skipf("chown not permitted here: %v", err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func checkAttrs(t *testing.T, path string, mode os.FileMode, uid, gid int) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode().Perm() != mode || int(sys.Uid) != uid || int(sys.Gid) != gid {
		t.Errorf("%s: %v %d:%d, want %v %d:%d", filepath.Base(path), st.Mode().Perm(), sys.Uid, sys.Gid, mode, uid, gid)
	}
}

func TestReplaceKeepsModeOwnerAndGroup(t *testing.T) {
	bin := buildAdmin(t)
	dir := t.TempDir()
	list := filepath.Join(dir, "list.txt")
	if err := os.WriteFile(list, []byte("new.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("import --replace", func(t *testing.T) {
		db := filepath.Join(dir, "import.db")
		ownedDB(t, db, 0o640, keptUID, keptGID)
		if r := runAdmin(t, withUmask(bin, "import", db, "--replace", "--table", "block_exact", list)); r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		checkAttrs(t, db, 0o640, keptUID, keptGID)
	})

	t.Run("migrate --replace", func(t *testing.T) {
		src, dst := filepath.Join(dir, "msrc.db"), filepath.Join(dir, "mdst.db")
		seedDB(t, src, seedRows)
		ownedDB(t, dst, 0o640, keptUID, keptGID)
		if r := runAdmin(t, withUmask(bin, "migrate", "--replace", src, dst)); r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		checkAttrs(t, dst, 0o640, keptUID, keptGID)
	})

	t.Run("migrate to a new file takes the source's", func(t *testing.T) {
		src, dst := filepath.Join(dir, "nsrc.db"), filepath.Join(dir, "ndst.db")
		ownedDB(t, src, 0o640, keptUID, keptGID)
		if r := runAdmin(t, withUmask(bin, "migrate", src, dst)); r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		checkAttrs(t, dst, 0o640, keptUID, keptGID)
	})

	t.Run("split", func(t *testing.T) {
		src := filepath.Join(dir, "ssrc.db")
		ownedDB(t, src, 0o644, 2, 2)
		existing, fresh := filepath.Join(dir, "shard-0.db"), filepath.Join(dir, "shard-1.db")
		ownedDB(t, existing, 0o640, keptUID, keptGID)
		if r := runAdmin(t, withUmask(bin, "split", src, existing, fresh)); r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		checkAttrs(t, existing, 0o640, keptUID, keptGID)
		checkAttrs(t, fresh, 0o644, 2, 2)
	})
}

// TestReplaceWarnsWhenOwnerCannotBeKept runs the import as an unprivileged
// user (daemon) over a file of another user: the swap happens, with the
// mode kept and a warning naming the owner that was not.
func TestReplaceWarnsWhenOwnerCannotBeKept(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the command as another user")
	}
	bin := buildAdmin(t)
	dir := t.TempDir()
	// The command, running as daemon, must reach the binary and write next
	// to the database.
	for _, d := range []string{filepath.Dir(bin), filepath.Dir(filepath.Dir(bin)), dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	list := filepath.Join(dir, "list.txt")
	if err := os.WriteFile(list, []byte("new.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "other-user.db")
	ownedDB(t, db, 0o666, 2, 2)
	cmd := exec.Command(bin, "import", db, "--replace", "--table", "block_exact", list)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: keptUID, Gid: keptGID}}
	r := runAdmin(t, cmd)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "warning: "+db+": owner and group 2:2") {
		t.Errorf("no warning about the owner: %q", r.stderr)
	}
	checkAttrs(t, db, 0o666, keptUID, keptGID)
	if n := tableRows(t, db, "block_exact"); n != 1 {
		t.Errorf("block_exact has %d rows, want the 1 imported", n)
	}
}
