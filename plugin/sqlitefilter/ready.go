package sqlitefilter

// Ready implements ready.Readiness: the server is ready once every file is
// open with its in-memory rules (every shard of a shard set; the rules are
// built before a file is published, see watch.go) and, the first time, once
// the key filter's build for each file has ended, so that from the first query the
// ready plugin (a Kubernetes readiness probe) lets through, every rule
// applies and lookups run at full speed. After that it stays ready through
// edits, swaps and rebuilds: the previous data and rules serve meanwhile.
func (f *SQLiteFilter) Ready() bool {
	if !f.files.open() {
		return false
	}
	if f.warm.Load() {
		return true
	}
	for i, k := range f.filters {
		if !k.Settled(f.files.Store(i)) {
			return false
		}
	}
	f.warm.Store(true)
	return true
}
