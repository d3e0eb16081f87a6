package bloom

import (
	"os"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
)

// BenchmarkBuild builds the key filter (never the one the file stores) of the database named by
// SQLITEFILTER_BENCH_DB (made by `test/bench/benchtool gen`), as the server
// does before it is ready, and reports the keys read per second (the log
// says when keys were read through SQL instead of from the pages):
//
//	SQLITEFILTER_BENCH_DB=/tmp/10m.db taskset -c 1 go test -run '^$' -bench Build -benchtime 3x ./plugin/sqlitefilter/bloom/
func BenchmarkBuild(b *testing.B) {
	path := os.Getenv("SQLITEFILTER_BENCH_DB")
	if path == "" {
		b.Skip("set SQLITEFILTER_BENCH_DB to a database made by `benchtool gen`")
	}
	s, err := store.Open(path, store.Options{Pool: 1, BusyTimeoutMS: 1000})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var keys int64
	for b.Loop() {
		k := New(1<<34, testLogger{b})
		k.fromKeys = true
		st, err := k.build(s, 0)
		if err != nil {
			b.Fatal(err)
		}
		keys = st.b.added.Load()
	}
	b.ReportMetric(float64(keys), "keys")
	b.ReportMetric(float64(keys)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}
