package sqlitefile

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Cursor walks an index b-tree (a WITHOUT ROWID table or an index) in key
// order and yields the first field of each record: the key. It walks a
// bounded number of pages per call, so that the caller can end its read
// transaction between calls; it resumes only on an unchanged file, which
// the caller checks (a commit in between may have moved any key).
type Cursor struct {
	root    uint32
	stack   []level
	started bool
	visited uint32 // pages read, against a cycle in a damaged file
	over    []byte // a key gathered from overflow pages
	last    []byte // the last key yielded
	blob    bool   // whether it was a blob (blobs sort after all text)
	any     bool   // whether a key was yielded
}

// level is one page on the path from the root to the current page.
type level struct {
	page  []byte
	hdr   int // offset of the page header: 100 on page 1, else 0
	cells int
	leaf  bool
	next  int // the next child to descend into: 0..cells (cells: the right-most)
}

// maxDepth bounds the tree's height: SQLite's own limit is 20.
const maxDepth = 20

// B-tree page types.
const (
	indexInterior = 0x02
	indexLeaf     = 0x0a
)

// NewCursor returns a cursor over the index b-tree whose root page is root.
func NewCursor(root uint32) *Cursor { return &Cursor{root: root} }

// Walk reads at most maxPages pages of s, calling fn with every key they
// hold in key order; key is valid only during the call. It reports whether
// the tree is done.
func (c *Cursor) Walk(s *Snapshot, maxPages int, fn func(key []byte)) (done bool, err error) {
	if !c.started {
		c.started = true
		if err := c.push(s, c.root); err != nil {
			return false, err
		}
		maxPages--
	}
	for len(c.stack) > 0 {
		top := &c.stack[len(c.stack)-1]
		if top.leaf {
			for i := range top.cells {
				if err := c.key(s, top, i, fn); err != nil {
					return false, err
				}
			}
			if err := c.pop(s, fn); err != nil {
				return false, err
			}
			continue
		}
		if top.next > top.cells {
			if err := c.pop(s, fn); err != nil {
				return false, err
			}
			continue
		}
		if maxPages <= 0 {
			return false, nil
		}
		child, err := top.child(top.next, s.f.pageSize)
		if err != nil {
			return false, err
		}
		top.next++
		if err := c.push(s, child); err != nil {
			return false, err
		}
		maxPages--
	}
	return true, nil
}

// push reads page n and makes it the current one.
func (c *Cursor) push(s *Snapshot, n uint32) error {
	if len(c.stack) == maxDepth {
		return fmt.Errorf("b-tree deeper than %d: %w", maxDepth, errCorrupt)
	}
	if c.visited++; s.pages != 0 && c.visited > s.pages {
		return fmt.Errorf("more pages visited than the file has: %w", errCorrupt)
	}
	if len(c.stack) < cap(c.stack) {
		c.stack = c.stack[:len(c.stack)+1]
	} else {
		c.stack = append(c.stack, level{})
	}
	l := &c.stack[len(c.stack)-1]
	if len(l.page) != s.f.pageSize {
		l.page = make([]byte, s.f.pageSize)
	}
	if err := s.Page(n, l.page); err != nil {
		return err
	}
	l.hdr = 0
	if n == 1 {
		l.hdr = headerSize
	}
	switch l.page[l.hdr] {
	case indexLeaf:
		l.leaf = true
	case indexInterior:
		l.leaf = false
	default:
		return fmt.Errorf("page %d is of type %#x, not of an index b-tree: %w", n, l.page[l.hdr], ErrUnsupported)
	}
	l.cells = int(binary.BigEndian.Uint16(l.page[l.hdr+3:]))
	l.next = 0
	if l.cellArray()+2*l.cells > len(l.page) {
		return fmt.Errorf("page %d: %d cells: %w", n, l.cells, errCorrupt)
	}
	return nil
}

// pop leaves the current page; back in its parent, the key of the cell whose
// left child it was comes next in key order.
func (c *Cursor) pop(s *Snapshot, fn func([]byte)) error {
	c.stack = c.stack[:len(c.stack)-1]
	if len(c.stack) == 0 {
		return nil
	}
	parent := &c.stack[len(c.stack)-1]
	if i := parent.next - 1; i < parent.cells {
		return c.key(s, parent, i, fn)
	}
	return nil
}

// cellArray is the offset of the page's cell pointer array.
func (l *level) cellArray() int {
	if l.leaf {
		return l.hdr + 8
	}
	return l.hdr + 12
}

// cell returns the offset of cell i.
func (l *level) cell(i int) (int, error) {
	off := int(binary.BigEndian.Uint16(l.page[l.cellArray()+2*i:]))
	if off < l.cellArray() || off >= len(l.page) {
		return 0, fmt.Errorf("cell %d at %d: %w", i, off, errCorrupt)
	}
	return off, nil
}

// child returns the page number of child i of an interior page: the left
// child of cell i, or the right-most pointer when i is the cell count.
func (l *level) child(i, pageSize int) (uint32, error) {
	if i == l.cells {
		return binary.BigEndian.Uint32(l.page[l.hdr+8:]), nil
	}
	off, err := l.cell(i)
	if err != nil {
		return 0, err
	}
	if off+4 > pageSize {
		return 0, fmt.Errorf("cell %d at %d: %w", i, off, errCorrupt)
	}
	return binary.BigEndian.Uint32(l.page[off:]), nil
}

// key calls fn with the first field of cell i of page l.
func (c *Cursor) key(s *Snapshot, l *level, i int, fn func([]byte)) error {
	off, err := l.cell(i)
	if err != nil {
		return err
	}
	if !l.leaf {
		off += 4 // the left child
	}
	size, n := varint(l.page[off:])
	if n == 0 || size > 1<<31 {
		return fmt.Errorf("cell %d: payload size: %w", i, errCorrupt)
	}
	off += n
	local := localPayload(int(size), s.f.usable)
	if off+local > len(l.page) {
		return fmt.Errorf("cell %d: payload past the page: %w", i, errCorrupt)
	}
	payload := l.page[off : off+local]
	// The record: a header (its size, then each field's serial type) and
	// the fields. The first field is the key.
	hsize, n1 := varint(payload)
	st, n2 := varint(payload[min(n1, len(payload)):])
	if n1 == 0 || n2 == 0 || hsize < uint64(n1+n2) || hsize > uint64(local) {
		return fmt.Errorf("cell %d: record header: %w", i, errCorrupt)
	}
	var klen uint64
	blob := false
	switch {
	case st >= 13 && st%2 == 1: // text
		klen = (st - 13) / 2
	case st >= 12 && st%2 == 0: // blob
		klen, blob = (st-12)/2, true
	default:
		return fmt.Errorf("a key of serial type %d (neither text nor blob): %w", st, ErrUnsupported)
	}
	start, end := hsize, hsize+klen
	if end > size {
		return fmt.Errorf("cell %d: key past the record: %w", i, errCorrupt)
	}
	if end <= uint64(local) {
		return c.yield(payload[start:end], blob, fn)
	}
	// The key runs on into overflow pages: a chain of pages, each a 4-byte
	// pointer to the next and usable-4 bytes of payload.
	if off+local+4 > len(l.page) {
		return fmt.Errorf("cell %d: overflow pointer past the page: %w", i, errCorrupt)
	}
	c.over = append(c.over[:0], payload[min(start, uint64(local)):]...)
	next := binary.BigEndian.Uint32(l.page[off+local:])
	page := make([]byte, s.f.pageSize)
	for at := uint64(local); at < end; {
		if next == 0 {
			return fmt.Errorf("cell %d: overflow chain ends early: %w", i, errCorrupt)
		}
		if err := s.Page(next, page); err != nil {
			return err
		}
		chunk := page[4:s.f.usable]
		from := uint64(0)
		if start > at {
			from = min(start-at, uint64(len(chunk)))
		}
		to := min(end-at, uint64(len(chunk)))
		if from < to {
			c.over = append(c.over, chunk[from:to]...)
		}
		at += uint64(len(chunk))
		next = binary.BigEndian.Uint32(page[:4])
	}
	return c.yield(c.over, blob, fn)
}

// yield checks that key comes in order and passes it to fn. The order is
// that of BINARY collation (text before blobs, each by its bytes): a key
// before the one yielded last means a page that is not what it should be,
// or a collation this package does not know, and the caller must not trust
// where the walk stopped.
func (c *Cursor) yield(key []byte, blob bool, fn func([]byte)) error {
	if c.any && (c.blob && !blob || c.blob == blob && bytes.Compare(key, c.last) < 0) {
		return fmt.Errorf("keys out of order: %w", ErrUnsupported)
	}
	c.last, c.blob, c.any = append(c.last[:0], key...), blob, true
	fn(key)
	return nil
}

// Last returns the last key yielded, whether it is a blob, and whether there
// was one: where a reader through SQL takes over when the walk cannot go on.
func (c *Cursor) Last() (key []byte, blob, ok bool) { return c.last, c.blob, c.any }

// localPayload is how much of a payload of size p an index b-tree cell keeps
// on its page (the file format's rule; the rest goes to overflow pages).
func localPayload(p, usable int) int {
	maxLocal := (usable-12)*64/255 - 23
	if p <= maxLocal {
		return p
	}
	minLocal := (usable-12)*32/255 - 23
	k := minLocal + (p-minLocal)%(usable-4)
	if k <= maxLocal {
		return k
	}
	return minLocal
}

// varint decodes SQLite's big-endian varint (1 to 9 bytes; the ninth
// contributes all 8 bits) and returns it with its length, 0 when b is too
// short.
func varint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < 8; i++ {
		if i >= len(b) {
			return 0, 0
		}
		v = v<<7 | uint64(b[i]&0x7f)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	if len(b) < 9 {
		return 0, 0
	}
	return v<<8 | uint64(b[8]), 9
}
