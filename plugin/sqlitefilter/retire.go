package sqlitefilter

import (
	"runtime"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
)

// retire closes s, a store another one replaced, in the background, on a
// thread of low CPU priority. A file renamed over stays on disk until its
// last descriptor closes, and the kernel frees its blocks and cached pages
// in that close, on the closing thread: a goroutine dump of a 100 M-row
// swap (a 3.8 GB file) found the watcher 3.7 s in close(2), on the core
// the queries run on. At a lower priority that work takes what the
// queries leave (the lowest second after such a swap went from 0.25× of
// the steady QPS to 0.51–0.57× in test/bench/ready_bench.sh). Stop waits
// for it.
func (f *SQLiteFilter) retire(s *store.Store) {
	f.retiring.Add(1)
	go func() {
		defer f.retiring.Done()
		// Never unlocked: the thread exits with the goroutine, and its
		// priority with it.
		runtime.LockOSThread()
		lowerThreadPriority()
		s.Close()
	}()
}
