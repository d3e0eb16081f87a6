package sqlitefilter

import (
	"sync"
	"time"
)

// errorLogInterval is the least time between two logged errors: a database
// that is gone fails every query and every watcher tick, and the log must
// stay readable (and the disk unfilled) while it is.
const errorLogInterval = 10 * time.Second

// errorLog logs errors at a bounded rate, saying how many it held back.
type errorLog struct {
	every time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func newErrorLog(every time.Duration) *errorLog { return &errorLog{every: every} }

// Log logs err now, or counts it if an error was logged less than every ago.
func (l *errorLog) Log(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		return
	}
	if l.suppressed > 0 {
		log.Errorf("%v (%d more errors in the last %s not logged)", err, l.suppressed, now.Sub(l.last).Round(time.Second))
	} else {
		log.Errorf("%v", err)
	}
	l.last, l.suppressed = now, 0
}

// Reset lets the next error be logged at once: after a recovery, a new
// failure is news.
func (l *errorLog) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last, l.suppressed = time.Time{}, 0
}
