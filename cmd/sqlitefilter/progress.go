package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// progress draws a one-line status (rows, rows/s, percent of bytes read) on
// standard error while an import runs, only when standard error is a
// terminal: in a pipe or a log it would be noise.
type progress struct {
	rows  atomic.Int64
	read  atomic.Pointer[atomic.Int64] // bytes of the current input read so far
	total atomic.Int64                 // size of the current input, 0 if unknown
	name  atomic.Pointer[string]

	mu    sync.Mutex // serialises the status line and other output
	out   io.Writer
	start time.Time
	stop  chan struct{}
	done  sync.WaitGroup
}

func newProgress() *progress {
	p := &progress{start: time.Now()}
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return p
	}
	p.out = os.Stderr
	p.stop = make(chan struct{})
	p.done.Add(1)
	go p.run()
	return p
}

// setInput shows a new input of size bytes (0 if unknown), whose reader
// counts the bytes read in read.
func (p *progress) setInput(name string, size int64, read *atomic.Int64) {
	p.name.Store(&name)
	p.read.Store(read)
	p.total.Store(size)
}

func (p *progress) run() {
	defer p.done.Done()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			fmt.Fprint(p.out, "\r\033[K")
			return
		case <-t.C:
			p.draw()
		}
	}
}

func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	rows := p.rows.Load()
	rate := float64(rows) / time.Since(p.start).Seconds()
	name := ""
	if n := p.name.Load(); n != nil {
		name = *n
	}
	pct := ""
	count := fmt.Sprintf("%d rows, %.0f rows/s", rows, rate)
	if read := p.read.Load(); rows == 0 && read != nil {
		// Still downloading (sync) or before the first row: the bytes are
		// what moves.
		count = fmt.Sprintf("%.1f MB", float64(read.Load())/1e6)
	}
	if total, read := p.total.Load(), p.read.Load(); total > 0 && read != nil {
		f := float64(read.Load()) / float64(total)
		const width = 30
		bar := int(f * width)
		if bar > width {
			bar = width
		}
		pct = fmt.Sprintf("[%-*s] %3.0f%% ", width, strings.Repeat("#", bar), 100*f)
	}
	fmt.Fprintf(p.out, "\r\033[K%s %s%s", name, pct, count)
}

// printf writes a line of other output to w, first clearing the status
// line; the next tick redraws it below.
func (p *progress) printf(w io.Writer, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out != nil {
		fmt.Fprint(p.out, "\r\033[K")
	}
	fmt.Fprintf(w, format, args...)
}

// close removes the status line. It may be called more than once.
func (p *progress) close() {
	if p.stop != nil {
		close(p.stop)
		p.done.Wait()
		p.stop = nil
	}
}
