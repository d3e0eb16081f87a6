package sqlitefilter

// Ready implements ready.Readiness: the server is ready once the database is
// open (every shard of a shard set), so the ready plugin (and a Kubernetes
// readiness probe) holds traffic back until blocking can be enforced.
func (f *SQLiteFilter) Ready() bool { return f.files.open() }
