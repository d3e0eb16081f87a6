package bloom

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestPacedBuildSleepsWhenQueriesWait: on a core where other goroutines are
// waiting (queries), a paced chunk is followed by a sleep of paceRatio
// times the chunk, so the build takes a fraction of the core; an unpaced
// one is not.
func TestPacedBuildSleepsWhenQueriesWait(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var stop atomic.Bool
	defer stop.Store(true)
	// Stands for queries: always runnable, each turn longer than busyAfter.
	go func() {
		for !stop.Load() {
			for t0 := time.Now(); time.Since(t0) < 100*time.Microsecond; {
			}
			runtime.Gosched()
		}
	}()
	runtime.Gosched()

	const chunk = 10 * time.Millisecond
	for _, on := range []bool{true, false} {
		p := pacer{on: on}
		p.chunk()
		p.began = p.began.Add(-chunk) // a chunk that took 10 ms
		t0 := time.Now()
		p.done()
		slept := time.Since(t0)
		if on && slept < paceRatio*chunk {
			t.Errorf("paced: waited %s after a 10 ms chunk on a busy core, want at least %s", slept, paceRatio*chunk)
		}
		if !on && slept >= paceRatio*chunk {
			t.Errorf("not paced: waited %s after a chunk", slept)
		}
	}
}

// TestPacedBuildsShareTheirGate: the paced builds of one handler's filters
// run their chunks (and the sleeps after them) one at a time, so that
// together they take the share one build would.
func TestPacedBuildsShareTheirGate(t *testing.T) {
	gate, stop := make(chan struct{}, 1), make(chan struct{})
	a, b := pacer{on: true, gate: gate, stop: stop}, pacer{on: true, gate: gate, stop: stop}
	if !a.chunk() {
		t.Fatal("the first chunk did not start")
	}
	started := make(chan bool)
	go func() { started <- b.chunk() }()
	select {
	case <-started:
		t.Fatal("a second build's chunk started while the first held the gate")
	case <-time.After(50 * time.Millisecond):
	}
	a.done()
	if !<-started {
		t.Fatal("the second chunk did not start once the gate was free")
	}
	b.done()
	// A closing filter does not wait for the gate.
	a.chunk()
	go func() { started <- b.chunk() }()
	close(stop)
	if <-started {
		t.Fatal("a chunk started on a closing filter")
	}
}
