package sqlitefile

import (
	"fmt"
	"os"
	"sync"
	"syscall"
)

// descriptor is one open file shared by every File of it in the process
// (File says why).
type descriptor struct {
	f    *os.File
	info os.FileInfo
	key  fileKey
	refs int
	// extra are further descriptors of the same file, closed with f.
	extra []*os.File
}

// fileKey identifies a file whatever its name.
type fileKey struct{ dev, ino uint64 }

// open is the process's descriptors by file. It is global for the reason
// SQLite's list of open files is: the locks it protects are the process's.
var open = struct {
	sync.Mutex
	files map[fileKey]*descriptor
}{files: map[fileKey]*descriptor{}}

// acquire returns the shared descriptor of the file at path, opening it for
// reading when the process has none.
func acquire(path string) (*descriptor, error) {
	open.Lock()
	defer open.Unlock()
	if fi, err := os.Stat(path); err == nil {
		if d := open.files[keyOf(fi)]; d != nil {
			d.refs++
			return d, nil
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close() // fstat of a descriptor just opened: not seen to fail
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	k := keyOf(fi)
	if d := open.files[k]; d != nil {
		// Renamed in place between the Stat and the Open, to a file the
		// process has open already: the new descriptor cannot be closed
		// before that one either.
		d.extra = append(d.extra, f)
		d.refs++
		return d, nil
	}
	d := &descriptor{f: f, info: fi, key: k, refs: 1}
	open.files[k] = d
	return d, nil
}

// release drops one reference, closing the file with the last.
func (d *descriptor) release() {
	open.Lock()
	defer open.Unlock()
	if d.refs--; d.refs == 0 {
		delete(open.files, d.key)
		d.f.Close()
		for _, f := range d.extra {
			f.Close()
		}
	}
}

func keyOf(fi os.FileInfo) fileKey {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}
	}
	return fileKey{dev: uint64(st.Dev), ino: st.Ino}
}
