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
