// Package sqlitefile reads the keys of an SQLite index b-tree straight from
// the database file's pages (and its write-ahead log's), in key order,
// without SQLite's virtual machine: the key filter's build reads every key
// of a database, and through SQL most of its time goes to stepping one row
// at a time.
//
// It only reads. The pages are consistent only while the caller holds an
// SQLite read transaction on the same file (see Snapshot), which is what
// keeps a writer from changing them underneath; everything this package does
// not understand (another text encoding, a key that is neither text nor
// blob, a page that is not of an index b-tree) is an error wrapping
// ErrUnsupported, and the caller reads through SQL instead.
package sqlitefile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrUnsupported says that the file, or a page of it, is not one this
// package reads; SQL can.
var ErrUnsupported = errors.New("not readable without SQLite")

// ErrMoved says that a commit landed between the two reads of the
// write-ahead log's index that bracket the start of a read transaction: the
// pages cannot be matched to the transaction's snapshot. Trying again
// usually succeeds.
var ErrMoved = errors.New("the write-ahead log moved while the snapshot was taken")

// File is an open database file and its -shm, for reading pages.
//
// Its descriptors are shared by every File of the same file in the process
// and closed only when the last of them closes. POSIX advisory locks belong
// to a process and a file, not to a descriptor: closing any descriptor of a
// file drops every lock the process holds on it, SQLite's included (a
// reader's shared lock, a WAL reader's mark in -shm), and a writer could
// then change the pages a reader is reading. SQLite keeps one list of open
// files per process for the same reason. So a File is opened after and
// closed after the SQLite connections it reads beside, and every holder of
// such connections in the process holds a File (the store does).
type File struct {
	path     string
	db, shm  *descriptor // shm is nil outside WAL mode
	pageSize int
	usable   int  // page size less the reserved bytes at the end of a page
	wal      bool // the header says write-ahead log mode
}

// headerSize is the database header's size, at the start of page 1.
const headerSize = 100

// Open opens the database file at path, and its -shm when the file is in
// WAL mode, for reading, and checks the header.
func Open(path string) (*File, error) {
	// SQLite names the -wal and -shm after the file a symbolic link leads
	// to (a Kubernetes volume's ..data link, a link to the current file).
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	db, err := acquire(path)
	if err != nil {
		return nil, err
	}
	f := &File{path: path, db: db}
	err = f.readHeader()
	if err == nil && f.wal {
		f.shm, err = acquire(path + "-shm")
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Close releases the descriptors.
func (f *File) Close() error {
	f.db.release()
	if f.shm != nil {
		f.shm.release()
	}
	return nil
}

// Info describes the database file the File reads: os.SameFile with the
// file SQLite opened tells whether they are one.
func (f *File) Info() os.FileInfo { return f.db.info }

// WAL reports whether the file is in write-ahead log mode.
func (f *File) WAL() bool { return f.wal }

func (f *File) readHeader() error {
	var h [headerSize]byte
	if _, err := f.db.f.ReadAt(h[:], 0); err != nil {
		return fmt.Errorf("read the header: %w", err)
	}
	if !bytes.Equal(h[:16], []byte("SQLite format 3\x00")) {
		return fmt.Errorf("not an SQLite 3 file: %w", ErrUnsupported)
	}
	size := int(binary.BigEndian.Uint16(h[16:]))
	if size == 1 {
		size = 65536
	}
	if size < 512 || size&(size-1) != 0 {
		return fmt.Errorf("page size %d: %w", size, ErrUnsupported)
	}
	f.pageSize, f.usable = size, size-int(h[20])
	if f.usable < 480 {
		return fmt.Errorf("usable page size %d: %w", f.usable, ErrUnsupported)
	}
	// Text in another encoding than UTF-8 must be converted, which SQL does.
	if enc := binary.BigEndian.Uint32(h[56:]); enc != 1 && enc != 0 {
		return fmt.Errorf("text encoding %d: %w", enc, ErrUnsupported)
	}
	f.wal = h[18] == 2 && h[19] == 2
	return nil
}

// State is what moves with every commit: in WAL mode the log's index
// (-shm) header, which every commit rewrites, with how much of the log a
// checkpoint has copied into the database file; in rollback-journal mode the
// file's size and modification time, which a commit changes even when it
// leaves the change counter alone (a Litestream follower writes pages that
// way).
type State struct {
	header    [walIndexHeaderSize]byte
	mxFrame   uint32 // last valid frame
	nBackfill uint32 // frames already copied into the database file
	size      int64
	mtime     int64
}

// walIndexHeaderSize: the index header is 48 bytes, written twice.
const walIndexHeaderSize = 48

// walBackfillOffset is where the checkpoint information starts in -shm.
const walBackfillOffset = 2 * walIndexHeaderSize

// State reads the state of the file now. The log's index header is kept
// twice so that a reader can tell a header being rewritten; two copies that
// differ are ErrMoved.
func (f *File) State() (State, error) {
	var st State
	if !f.wal {
		fi, err := f.db.f.Stat()
		if err != nil {
			return st, err
		}
		st.size, st.mtime = fi.Size(), fi.ModTime().UnixNano()
		return st, nil
	}
	// The -shm SQLite uses is the one opened unless it was deleted and
	// made anew, and then the header read would not be the log's.
	if fi, err := os.Stat(f.path + "-shm"); err != nil || !os.SameFile(fi, f.shm.info) {
		return st, fmt.Errorf("the write-ahead log index is not the one opened: %w", ErrUnsupported)
	}
	shm := f.shm.f
	var b [walBackfillOffset + 4]byte
	if _, err := shm.ReadAt(b[:], 0); err != nil {
		return st, fmt.Errorf("read the write-ahead log index: %w", err)
	}
	if !bytes.Equal(b[:walIndexHeaderSize], b[walIndexHeaderSize:walBackfillOffset]) {
		return st, ErrMoved
	}
	if b[12] == 0 { // isInit: no reader or writer has built the index yet
		return st, fmt.Errorf("the write-ahead log index is not initialised: %w", ErrUnsupported)
	}
	copy(st.header[:], b[:walIndexHeaderSize])
	// The index is in the byte order of the machine that wrote it: this
	// one, since the file is shared through memory.
	st.mxFrame = binary.NativeEndian.Uint32(b[16:])
	st.nBackfill = binary.NativeEndian.Uint32(b[walBackfillOffset:])
	return st, nil
}

// Same reports whether no commit (and no restart of the log) came between
// two states.
func (st State) Same(o State) bool {
	return st.header == o.header && st.size == o.size && st.mtime == o.mtime
}

// Snapshot is the file's pages as of one state of its log: a page the log
// holds a committed frame of (up to mxFrame) is read from its latest frame,
// any other from the database file.
//
// It is consistent only while the caller holds an SQLite read transaction
// begun after before was read and before now was (the caller passes both:
// equal states mean no commit came between, so the transaction reads
// exactly now's snapshot). While that transaction lasts, no writer can
// change a page it reads: in rollback-journal mode a writer needs an
// exclusive lock to write the file; in WAL mode a checkpoint copies into
// the file only frames no reader may need, and the log is not restarted
// while a reader uses its frames.
type Snapshot struct {
	f      *File
	wal    *os.File
	frames map[uint32]int64 // page → offset of its latest frame's data in -wal
	pages  uint32           // pages in the database as of the snapshot
}

// walHeaderSize and walFrameHeaderSize are the sizes of the log's header and
// of each frame's.
const (
	walHeaderSize      = 32
	walFrameHeaderSize = 24
)

// Snapshot returns the pages as of state now, which must be the same as
// before (else ErrMoved). Close it when done.
func (f *File) Snapshot(before, now State) (*Snapshot, error) {
	if !before.Same(now) {
		return nil, ErrMoved
	}
	s := &Snapshot{f: f}
	if now.mxFrame > now.nBackfill {
		if err := s.readLog(now); err != nil {
			s.Close()
			return nil, err
		}
	}
	p1 := make([]byte, f.pageSize)
	if err := s.Page(1, p1); err != nil {
		s.Close()
		return nil, err
	}
	// The page count in the header is valid when the change counter
	// matches the "version valid for" field; else the file's size says it.
	s.pages = binary.BigEndian.Uint32(p1[28:])
	if s.pages == 0 || binary.BigEndian.Uint32(p1[24:]) != binary.BigEndian.Uint32(p1[92:]) {
		fi, err := f.db.f.Stat()
		if err != nil {
			s.Close()
			return nil, err
		}
		s.pages = uint32(fi.Size() / int64(f.pageSize))
	}
	return s, nil
}

// readLog maps every page the log holds a frame of, up to st.mxFrame, to its
// latest frame. Those frames are all committed (mxFrame only moves past a
// commit frame), so their checksums need no checking.
func (s *Snapshot) readLog(st State) error {
	wal, err := os.Open(s.f.path + "-wal")
	if err != nil {
		return fmt.Errorf("open the write-ahead log: %w", err)
	}
	s.wal = wal
	var h [walHeaderSize]byte
	if _, err := wal.ReadAt(h[:], 0); err != nil {
		return fmt.Errorf("read the write-ahead log header: %w", err)
	}
	if int(binary.BigEndian.Uint32(h[8:])) != s.f.pageSize {
		return fmt.Errorf("write-ahead log page size %d: %w", binary.BigEndian.Uint32(h[8:]), ErrUnsupported)
	}
	salt := h[16:24]
	frame := int64(walFrameHeaderSize + s.f.pageSize)
	s.frames = make(map[uint32]int64, st.mxFrame)
	var fh [walFrameHeaderSize]byte
	for i := int64(0); i < int64(st.mxFrame); i++ {
		off := walHeaderSize + i*frame
		if _, err := wal.ReadAt(fh[:], off); err != nil {
			return fmt.Errorf("read frame %d of the write-ahead log: %w", i+1, err)
		}
		if !bytes.Equal(fh[8:16], salt) {
			return fmt.Errorf("frame %d of the write-ahead log is of another generation: %w", i+1, ErrMoved)
		}
		s.frames[binary.BigEndian.Uint32(fh[:4])] = off + walFrameHeaderSize
	}
	return nil
}

// Close closes the log file the snapshot opened.
func (s *Snapshot) Close() {
	if s.wal != nil {
		s.wal.Close()
	}
}

// Page reads page n (from 1) into buf, which holds a page.
func (s *Snapshot) Page(n uint32, buf []byte) error {
	if n == 0 || s.pages != 0 && n > s.pages {
		return fmt.Errorf("page %d of %d: %w", n, s.pages, errCorrupt)
	}
	buf = buf[:s.f.pageSize]
	var err error
	if off, ok := s.frames[n]; ok {
		_, err = s.wal.ReadAt(buf, off)
	} else {
		_, err = s.f.db.f.ReadAt(buf, int64(n-1)*int64(s.f.pageSize))
	}
	if err == io.EOF {
		return fmt.Errorf("page %d is past the end of the file: %w", n, errCorrupt)
	}
	return err
}

// errCorrupt says a page is not what the b-tree's structure says it should
// be: a file damaged in place, or a bug here. SQL reads it, or says why not.
var errCorrupt = fmt.Errorf("malformed b-tree: %w", ErrUnsupported)
