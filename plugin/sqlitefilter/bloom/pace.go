package bloom

import (
	"runtime"
	"time"
)

// pacer keeps a build that runs beside queries served with another filter
// (a file being prepared, a filter rebuilt larger, a reloaded instance's
// first build) from taking their core. After each chunk it lets every
// runnable goroutine run first; when some did (the server is busy), it
// sleeps for paceRatio times as long as the chunk took, so that on a busy
// core the build takes about 1/(1+paceRatio) of it and queries the rest,
// while on an idle one it runs at full speed. A build with nothing to serve
// meanwhile (the first start, a filter turned off) is not paced: every
// query then waits for SQLite until it ends.
type pacer struct {
	on    bool
	stop  <-chan struct{}
	began time.Time // of the chunk in progress
}

// paceRatio: a paced build takes a sixth of a busy core.
const paceRatio = 5

// busyAfter is how long a yield must take to tell that other goroutines
// were waiting: one query's turn takes tens of microseconds, a yield with
// nothing to run a fraction of one.
const busyAfter = 20 * time.Microsecond

// chunk marks the start of a chunk.
func (p *pacer) chunk() { p.began = time.Now() }

// done ends a chunk: it yields, and sleeps when the server is busy.
func (p *pacer) done() {
	if !p.on {
		return
	}
	took := time.Since(p.began)
	t0 := time.Now()
	runtime.Gosched()
	if time.Since(t0) < busyAfter {
		return
	}
	t := time.NewTimer(paceRatio * took)
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.stop:
	}
}
