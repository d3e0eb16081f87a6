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
//
// The filters of one handler (the shards of a set) share a gate: a paced
// chunk and the sleep after it hold it, so that the handler's paced builds
// together, not each of them, take that share. Sixteen shards swapped at
// once would otherwise take the whole core between them.
type pacer struct {
	on    bool
	gate  chan struct{} // shared by the handler's filters; nil: none
	stop  <-chan struct{}
	began time.Time // of the chunk in progress
	held  bool      // the gate is ours
}

// paceRatio: a paced build takes a sixth of a busy core.
const paceRatio = 5

// busyAfter is how long a yield must take to tell that other goroutines
// were waiting: one query's turn takes tens of microseconds, a yield with
// nothing to run a fraction of one.
const busyAfter = 20 * time.Microsecond

// chunk starts a chunk: a paced one once the gate is free. It reports
// false when the filter is closing meanwhile.
func (p *pacer) chunk() bool {
	if p.on && p.gate != nil {
		select {
		case p.gate <- struct{}{}:
			p.held = true
		case <-p.stop:
			return false
		}
	}
	p.began = time.Now()
	return true
}

// done ends a chunk: it yields, and sleeps when the server is busy; then
// it frees the gate.
func (p *pacer) done() {
	if !p.on {
		return
	}
	defer p.release()
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

// release frees the gate if the pacer holds it.
func (p *pacer) release() {
	if p.held {
		p.held = false
		<-p.gate
	}
}
