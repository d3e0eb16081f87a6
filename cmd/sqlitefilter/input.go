package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
)

// maxLine is the longest line the import reads; a longer one is reported
// invalid and skipped without being held in memory, so a 10 MB line or a
// binary file costs no more memory than a normal list.
const maxLine = 64 << 10

// input is one list being read: a file or standard input, gunzipped when it
// starts with the gzip magic, without a UTF-8 byte-order mark, line by line.
type input struct {
	name  string
	size  int64        // bytes on disk, 0 when unknown (a pipe)
	read  atomic.Int64 // bytes read from disk so far, for the progress bar
	close func() error
	r     *bufio.Reader
	line  int // number of the line last returned
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// openInput opens a list for reading until ctx is done: from then on every
// read returns ctx's cause at once, even one that waits on a silent pipe.
func openInput(ctx context.Context, name string) (*input, error) {
	in := &input{name: name}
	var src io.Reader = os.Stdin
	closeSrc := func() error { return nil }
	if name == "-" {
		in.name = "stdin"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			in.size = st.Size()
		}
		src, closeSrc = f, f.Close
	}
	ctx, cancel := context.WithCancel(ctx)
	in.close = func() error {
		cancel()
		return closeSrc()
	}
	br := bufio.NewReaderSize(countingReader{newCancelReader(ctx, src), &in.read}, maxLine)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			in.close()
			return nil, fmt.Errorf("%s: %w", in.name, err)
		}
		br = bufio.NewReaderSize(zr, maxLine)
	}
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xef, 0xbb, 0xbf}) {
		br.Discard(3)
	}
	in.r = br
	return in, nil
}

// errLineTooLong is returned (with the line number advanced) for a line of
// more than maxLine bytes; reading continues with the next line.
var errLineTooLong = fmt.Errorf("line longer than %d bytes", maxLine)

// next returns the next line without its line ending (LF or CRLF). The
// slice is valid until the next call. It returns io.EOF at the end.
func (in *input) next() ([]byte, error) {
	line, err := in.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		in.line++
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = in.r.ReadSlice('\n')
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("%s: %w", in.name, err)
		}
		return nil, errLineTooLong
	}
	if err == io.EOF && len(line) > 0 {
		err = nil
	}
	if err != nil {
		if err == io.EOF {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", in.name, err)
	}
	in.line++
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	return line, nil
}

// where names the line last returned for a message, or only the input when
// it is not read by lines (an RPZ file goes to the zone parser whole).
func (in *input) where() string {
	if in.line == 0 {
		return in.name
	}
	return fmt.Sprintf("%s:%d", in.name, in.line)
}

// head returns the first lines without consuming them, for sniffing the
// format: up to n, ending with the first that is neither blank nor a '#'
// comment, which is the one sniff decides on. It waits for input only until
// it has that line (or maxLine bytes, or the end), so a pipe that delivers a
// few lines and then pauses is imported as it comes.
func (in *input) head(n int) []string {
	want := 1
	for {
		buf, err := in.r.Peek(want)
		if err == nil && len(buf) < maxLine {
			buf = buf[:in.r.Buffered()]
		}
		out, decided := headLines(buf, n)
		if decided || err != nil || len(buf) >= maxLine {
			return out
		}
		want = len(buf) + 1
	}
}

// headLines splits the complete lines at the start of buf, up to n and up
// to the first that is neither blank nor a comment, and reports whether it
// reached such a line (or n lines).
func headLines(buf []byte, n int) ([]string, bool) {
	var out []string
	for len(out) < n {
		line, rest, found := bytes.Cut(buf, []byte{'\n'})
		if !found {
			return out, false // a partial line may be cut anywhere
		}
		s := string(bytes.TrimSuffix(line, []byte{'\r'}))
		out = append(out, s)
		if t := strings.TrimSpace(s); t != "" && t[0] != '#' {
			return out, true
		}
		buf = rest
	}
	return out, true
}

// cancelReader reads src in a goroutine of its own and hands the data over
// in chunks, so that a stop does not wait for src: Read returns ctx's cause
// as soon as ctx is done, whether src is blocked in read(2) on a pipe whose
// writer is silent or streams an endless line that no newline ends. The
// goroutine stays blocked in src.Read until that returns (or the process
// exits); it never touches the chunks again once ctx is done.
type cancelReader struct {
	ctx  context.Context
	data chan chunk  // filled chunks, in order
	free chan []byte // buffers the goroutine may fill
	cur  chunk       // the chunk being handed out
	off  int         // bytes of cur already handed out
}

// chunk is one read of src: buf[:n] and the error that came with it.
type chunk struct {
	buf []byte
	n   int
	err error
}

// cancelChunk is the size of one read; two buffers let the next read run
// while the last one is consumed.
const cancelChunk = 64 << 10

func newCancelReader(ctx context.Context, src io.Reader) *cancelReader {
	r := &cancelReader{ctx: ctx, data: make(chan chunk, 1), free: make(chan []byte, 2)}
	r.free <- make([]byte, cancelChunk)
	r.free <- make([]byte, cancelChunk)
	go r.pump(src)
	return r
}

func (r *cancelReader) pump(src io.Reader) {
	for {
		var buf []byte
		select {
		case buf = <-r.free:
		case <-r.ctx.Done():
			return
		}
		n, err := src.Read(buf)
		select {
		case r.data <- chunk{buf, n, err}:
		case <-r.ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

func (r *cancelReader) Read(p []byte) (int, error) {
	// Checked first: a source that never blocks (/dev/zero) always has a
	// chunk ready, and select would pick at random between the two.
	if r.ctx.Err() != nil {
		return 0, context.Cause(r.ctx)
	}
	for r.off == r.cur.n {
		if r.cur.err != nil {
			return 0, r.cur.err
		}
		if r.cur.buf != nil {
			r.free <- r.cur.buf
			r.cur.buf = nil
		}
		select {
		case r.cur = <-r.data:
			r.off = 0
		case <-r.ctx.Done():
			return 0, context.Cause(r.ctx)
		}
	}
	n := copy(p, r.cur.buf[r.off:r.cur.n])
	r.off += n
	return n, nil
}
