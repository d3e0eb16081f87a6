package sqlitefilter

import (
	"runtime"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
)

// retire closes s, a store another one replaced, in the background, on a
// thread of low CPU priority. A file renamed over stays on disk until its
// last descriptor closes, and the kernel frees its blocks and cached pages
// in that close, on the closing thread: 3.7 s of a core for a 3.8 GB file
// (100 M rows), measured, which taken from the queries' core made the
// lowest second after a swap 0.25× of the steady QPS. At a lower priority
// that work takes what the queries leave. Stop waits for it.
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
