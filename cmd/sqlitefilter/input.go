package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
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

func openInput(name string) (*input, error) {
	in := &input{name: name, close: func() error { return nil }}
	var src io.Reader = os.Stdin
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
		src, in.close = f, f.Close
	}
	br := bufio.NewReaderSize(countingReader{src, &in.read}, maxLine)
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

// head returns up to n of the first lines without consuming them, for
// sniffing the format.
func (in *input) head(n int) []string {
	buf, _ := in.r.Peek(maxLine)
	var out []string
	for len(out) < n && len(buf) > 0 {
		line, rest, found := bytes.Cut(buf, []byte{'\n'})
		if !found {
			break // a partial line may be cut anywhere
		}
		out = append(out, string(bytes.TrimSuffix(line, []byte{'\r'})))
		buf = rest
	}
	return out
}
