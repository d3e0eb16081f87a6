package schema

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// DSN returns the go-sqlite3 data source name for path with URI parameters
// (e.g. "mode=ro"). The path is escaped, so names with '?' or '#' work.
func DSN(path, params string) string {
	u := "file:" + (&url.URL{Path: path}).EscapedPath()
	if params != "" {
		u += "?" + params
	}
	return u
}

// TempPath returns a path next to path (same directory, so a rename is
// atomic) for building a replacement of it.
func TempPath(path string) string {
	return fmt.Sprintf("%s.new-%d", path, os.Getpid())
}

// Replace moves the finished database tmp over path atomically, with path's
// mode, owner and group (ReplaceFrom without a source, warnings dropped).
func Replace(tmp, path string) error { return ReplaceFrom(tmp, path, "", nil) }

// ReplaceFrom moves the finished database tmp over path atomically.
//
// Before the rename tmp takes the permission bits, owner and group of path,
// or, when path does not exist yet, of src (the database tmp was built
// from; "" for none: tmp keeps what the umask gave it). A server that could
// open the old file (or the source) can then open the new one, whatever the
// umask and user of the command that built it. Setting the owner or group
// needs privilege: when it is not permitted, warn (if not nil) is told what
// could not be kept and the swap goes on, as the rows are what was asked
// for.
//
// SQLite pairs a database with its -wal and -shm files by name only: a -wal
// left next to path would be opened with, and replayed into, the new file,
// whatever the new file's own journal mode (pagerOpenWalIfPresent). So tmp
// must be a closed rollback-journal database with no -wal of its own (the
// builders here make it so), and Replace unlinks path's -wal and -shm just
// before the rename. Readers that still have the old file open keep their open
// descriptors and their snapshot of the old data (a read-only connection never
// checkpoints or deletes by name); the next open of path sees the new file
// alone.
//
// What this cannot prevent: a process that opens path in the microseconds
// between the unlink and the rename opens the old file and recreates an
// empty -wal and -shm for it (even a read-only connection does), which the
// new file then inherits. Empty, they are harmless to readers; a writer's
// frames in them are the hazard, so a writer to the old file during the
// swap is unsupported (its writes would be lost anyway) and Replace reports
// a non-empty -wal found after the rename.
func ReplaceFrom(tmp, path, src string, warn func(string)) error {
	like := path
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		like = src
	}
	if like != "" {
		if err := keepAttrs(tmp, path, like, warn); err != nil {
			return fmt.Errorf("replace %s: %w", path, err)
		}
	}
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(tmp + suffix); err == nil {
			return fmt.Errorf("replace %s: %s%s exists: the new file was not closed cleanly", path, tmp, suffix)
		}
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("replace %s: %w", path, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	if err := syncFile(filepath.Dir(path)); err != nil {
		return fmt.Errorf("replace %s: sync directory: %w", path, err)
	}
	if st, err := os.Stat(path + "-wal"); err == nil && st.Size() > 0 {
		return fmt.Errorf("replace %s: renamed, but a writer wrote %s-wal during the swap; stop every writer, check the database (sqlitefilter check) and repeat the swap", path, path)
	}
	return nil
}

// RemoveStaleTemps deletes the files TempPath named for builds of path whose
// process is gone (killed half way), and returns their names. A build whose
// process still runs is left alone.
func RemoveStaleTemps(path string) []string {
	matches, _ := filepath.Glob(path + ".new-*")
	var removed []string
	for _, m := range matches {
		pid, err := strconv.Atoi(strings.TrimPrefix(m, path+".new-"))
		if err != nil || pid <= 0 {
			continue // a journal or -wal of a temp file, or not ours
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			continue
		}
		RemoveTemp(m)
		removed = append(removed, m)
	}
	return removed
}

// RemoveTemp deletes a half-built database and its journal.
func RemoveTemp(tmp string) {
	for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
		os.Remove(tmp + suffix)
	}
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// keepAttrs gives file tmp, to be renamed to path, the permission bits,
// owner and group of file like. The owner and group go first, as chown
// clears set-id bits. A chown refused for lack of privilege is reported to
// warn, not returned.
func keepAttrs(tmp, path, like string, warn func(string)) error {
	want, err := os.Stat(like)
	if err != nil {
		return err
	}
	have, err := os.Stat(tmp)
	if err != nil {
		return err
	}
	ws, ok1 := want.Sys().(*syscall.Stat_t)
	hs, ok2 := have.Sys().(*syscall.Stat_t)
	if ok1 && ok2 && (ws.Uid != hs.Uid || ws.Gid != hs.Gid) {
		if err := os.Chown(tmp, int(ws.Uid), int(ws.Gid)); errors.Is(err, os.ErrPermission) {
			if warn != nil {
				warn(fmt.Sprintf("%s: owner and group %d:%d of %s not kept, the new file is owned by %d:%d (%v)", path, ws.Uid, ws.Gid, like, hs.Uid, hs.Gid, err))
			}
		} else if err != nil {
			return err
		}
	}
	return os.Chmod(tmp, want.Mode().Perm())
}
