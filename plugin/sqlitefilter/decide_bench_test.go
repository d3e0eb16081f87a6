package sqlitefilter

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// The benchmarks run on a database of benchRows() rows (env
// SQLITEFILTER_BENCH_ROWS, default 200000), half in block_exact and half in
// block_wildcard, built once per process. Query names have 5 labels: a hit
// is under a wildcard row (the walk stops at its third suffix), a miss is in
// no table (every suffix probed in every suffix table).
//
//	go test -run '^$' -bench 'Decide|SuffixWalk|Probe' -benchmem ./plugin/sqlitefilter/

func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("SQLITEFILTER_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 200000
}

var benchDB struct {
	once sync.Once
	path string
	err  error
}

// benchPath returns the shared benchmark database, creating it on first use.
func benchPath(b *testing.B) string {
	benchDB.once.Do(func() {
		dir, err := os.MkdirTemp("", "sqlitefilter-bench")
		if err != nil {
			benchDB.err = err
			return
		}
		benchDB.path = filepath.Join(dir, "bench.db")
		benchDB.err = fillBenchDB(benchDB.path, benchRows())
	})
	if benchDB.err != nil {
		b.Fatal(benchDB.err)
	}
	return benchDB.path
}

func fillBenchDB(path string, n int) error {
	if err := schema.Create(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=rw")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	// Loading through the change log's triggers would only slow this down.
	for _, t := range schema.LoggedTables {
		for _, trig := range schema.ChangeLogTriggers(t.Name()) {
			if _, err := db.Exec("DROP TRIGGER " + trig); err != nil {
				return err
			}
		}
	}
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	ex, err := tx.Prepare("INSERT INTO block_exact VALUES (?)")
	if err != nil {
		return err
	}
	wc, err := tx.Prepare("INSERT INTO block_wildcard VALUES (?)")
	if err != nil {
		return err
	}
	for i := range n {
		st := ex
		if i%2 == 1 {
			st = wc
		}
		if _, err := st.Exec(benchRowName(i)); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return schema.AddChangeLog(db, schema.PerType)
}

func benchRowName(i int) string { return fmt.Sprintf("r%d-track.ads%d.com", i, i%997) }

// benchNames returns 5-label query names: hits under wildcard rows, or misses.
func benchNames(hit bool, rows int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	names := make([]string, 4096)
	for i := range names {
		if hit {
			names[i] = "a.b." + benchRowName(2*r.IntN(rows/2)+1)
		} else {
			names[i] = fmt.Sprintf("x%d.cdn.m%d.site%d.net", r.IntN(1<<30), r.IntN(100), r.IntN(1000))
		}
	}
	return names
}

func benchFilter(b *testing.B, cacheSize int, bloomMax int64, pool int) *SQLiteFilter {
	cfg := DefaultConfig()
	cfg.Path, cfg.Pool, cfg.Refresh, cfg.CacheSize, cfg.BloomMaxBytes = benchPath(b), pool, time.Hour, cacheSize, bloomMax
	f := New(cfg)
	if err := f.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Stop() })
	f.filters[0].Sync(f.files.first()) // the first tick would start the build
	if bloomMax > 0 {
		for !f.filters[0].Ready(f.files.first()) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return f
}

// BenchmarkDecide measures one decision in-process (no DNS), one goroutine:
// sqlite = every probe through SQLite; bloom = Bloom filter in front, no
// cache; cached = verdict cache warm (the same 4096 names repeat).
func BenchmarkDecide(b *testing.B) {
	modes := []struct {
		name  string
		cache int
		bloom int64
	}{
		{"sqlite", 0, 0},
		{"bloom", 0, 256 << 20},
		{"cached", 100000, 256 << 20},
	}
	for _, m := range modes {
		for _, hit := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/%s", m.name, map[bool]string{true: "hit", false: "miss"}[hit]), func(b *testing.B) {
				f := benchFilter(b, m.cache, m.bloom, 1)
				names := benchNames(hit, benchRows())
				want := map[bool]policy.Action{true: policy.ActionBlock, false: policy.ActionPass}[hit]
				for _, n := range names { // warms SQLite's pages and the cache
					if v, err := f.decide(n, f.currentRules(), new(decideStats)); err != nil || v.Action != want {
						b.Fatalf("decide(%s) = %v, %v; want %v", n, v, err, want)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					f.decide(names[i&(len(names)-1)], f.currentRules(), new(decideStats))
				}
			})
		}
	}
}

// BenchmarkDecideParallel measures decisions from many goroutines through
// SQLite only (no cache, no filter), by pool size: the pool's cost under
// contention. Set -cpu to vary GOMAXPROCS.
func BenchmarkDecideParallel(b *testing.B) {
	for _, pool := range []int{1, 2, 4, 8, 32} {
		b.Run(fmt.Sprintf("pool=%d", pool), func(b *testing.B) {
			f := benchFilter(b, 0, 0, pool)
			names := benchNames(false, benchRows())
			b.ReportAllocs()
			b.SetParallelism(8) // 8×GOMAXPROCS goroutines, like CoreDNS's per-query goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.IntN(len(names))
				for pb.Next() {
					r++
					f.decide(names[r&(len(names)-1)], f.currentRules(), new(decideStats))
				}
			})
		})
	}
}

// BenchmarkSuffixWalk compares the two ways to find the longest suffix of a
// 5-label name in block_wildcard: one prepared statement per suffix, the
// store's probe through a decision's Router (what a decision does), or one
// statement with every suffix in an IN list on a raw connection opened and
// holding a snapshot as the store's are.
func BenchmarkSuffixWalk(b *testing.B) {
	f := benchFilter(b, 0, 0, 1)
	set := store.Shards{f.files.first()}
	for _, hit := range []bool{true, false} {
		names := benchNames(hit, benchRows())
		b.Run(fmt.Sprintf("per-suffix/%s", map[bool]string{true: "hit", false: "miss"}[hit]), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				store.View(set, func(l policy.Lookup) error {
					ok, err := inSuffixes(l, schema.BlockWildcard, names[i&(len(names)-1)])
					if err != nil || ok != hit {
						b.Fatalf("probe = %v, %v; want %v", ok, err, hit)
					}
					return nil
				})
			}
		})
		b.Run(fmt.Sprintf("in-list/%s", map[bool]string{true: "hit", false: "miss"}[hit]), func(b *testing.B) {
			p := openProbe(b, "cache=private", "PRAGMA mmap_size=1099511627776",
				"SELECT Domain FROM block_wildcard WHERE Domain IN (?1, ?2, ?3, ?4, ?5) ORDER BY length(Domain) DESC LIMIT 1")
			args := make([]driver.NamedValue, 5)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				name := names[i&(len(names)-1)]
				for j := range args {
					args[j] = driver.NamedValue{Ordinal: j + 1, Value: name}
					name, _ = policy.Parent(name)
				}
				rows, err := p.st.QueryContext(context.Background(), args)
				if err != nil {
					b.Fatal(err)
				}
				err = rows.Next(p.dest)
				rows.Close()
				if (err == nil) != hit || (err != nil && err != io.EOF) {
					b.Fatalf("in-list = %v; want hit=%v", err, hit)
				}
			}
		})
	}
}

// inSuffixes reports whether table t holds name or one of its parent
// domains, probing the longest first, as the decision walks a suffix table.
func inSuffixes(l policy.Lookup, t schema.Table, name string) (bool, error) {
	for s, more := name, true; more; s, more = policy.Parent(s) {
		if ok, err := policy.Has(l, t, s); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// rawProbe is a read-only connection to the benchmark database, outside any
// Store, with one prepared query.
type rawProbe struct {
	c    *sqlite3.SQLiteConn
	st   *sqlite3.SQLiteStmt
	args []driver.NamedValue
	dest []driver.Value
}

// openProbe opens a rawProbe with the DSN options dsn, runs pragma (unless
// empty), holds a read transaction, as the Store does in WAL mode, and
// prepares query. It is closed when the benchmark ends.
func openProbe(b *testing.B, dsn, pragma, query string) *rawProbe {
	b.Helper()
	dc, err := (&sqlite3.SQLiteDriver{}).Open("file:" + benchPath(b) + "?mode=ro&_mutex=no&" + dsn)
	if err != nil {
		b.Fatal(err)
	}
	c := dc.(*sqlite3.SQLiteConn)
	if pragma != "" {
		if _, err := c.Exec(pragma, nil); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := c.Exec("BEGIN; SELECT 1 FROM block_exact LIMIT 1", nil); err != nil {
		b.Fatal(err)
	}
	st, err := c.Prepare(query)
	if err != nil {
		b.Fatal(err)
	}
	p := &rawProbe{c: c, st: st.(*sqlite3.SQLiteStmt), args: []driver.NamedValue{{Ordinal: 1}}, dest: make([]driver.Value, 1)}
	b.Cleanup(func() {
		p.st.Close()
		c.Exec("COMMIT", nil)
		c.Close()
	})
	return p
}

// exists runs the one-parameter query for key and reports whether it
// returned a row.
func (p *rawProbe) exists(key string) (bool, error) {
	p.args[0].Value = key
	rows, err := p.st.QueryContext(context.Background(), p.args)
	if err != nil {
		return false, err
	}
	err = rows.Next(p.dest)
	rows.Close()
	if err == io.EOF {
		return false, nil
	}
	return err == nil, err
}

// BenchmarkProbeModes compares open modes for read-only connections under
// parallel load (one exact probe per op, alternately hit and miss): the
// private cache the Store uses, private with mmap, and shared cache.
func BenchmarkProbeModes(b *testing.B) {
	modes := []struct{ name, dsn, pragma string }{
		{"private", "cache=private", ""},
		{"private+mmap", "cache=private", "PRAGMA mmap_size=17179869184"},
		{"shared", "cache=shared", ""},
	}
	for _, m := range modes {
		for _, pool := range []int{1, 2, 4, 32} {
			b.Run(fmt.Sprintf("%s/pool=%d", m.name, pool), func(b *testing.B) {
				conns := make(chan *rawProbe, pool)
				for range pool {
					conns <- openProbe(b, m.dsn, m.pragma, "SELECT 1 FROM block_exact WHERE Domain = ? LIMIT 1")
				}
				rows := benchRows()
				b.SetParallelism(8)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := rand.IntN(rows)
					for pb.Next() {
						i += 2
						key := benchRowName(i % rows)
						if i%4 == 0 {
							key = strings.Replace(key, "track", "miss", 1)
						}
						c := <-conns
						c.exists(key)
						conns <- c
					}
				})
			})
		}
	}
}

// BenchmarkDecideGroups compares a decision on the benchmark database as it
// is (no lists) with the same rows upgraded to 64 lists, every row in
// `default` and in one of 63 other lists, and 10 groups of 3 prefixes each:
// the client, 10.5.1.1, is in a group holding every list, so the verdicts
// are the same and the difference is the cost of the group, the scope and
// the masks.
//
//	go test -run '^$' -bench DecideGroups ./plugin/sqlitefilter/
func BenchmarkDecideGroups(b *testing.B) {
	grouped := filepath.Join(b.TempDir(), "grouped.db")
	src, err := os.ReadFile(benchPath(b))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(grouped, src, 0o644); err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("sqlite3", schema.DSN(grouped, "mode=rw"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := schema.Upgrade(db); err != nil {
		b.Fatal(err)
	}
	stmts := []string{
		"UPDATE block_exact SET lists = 1 | (1 << (1 + abs(random()) % 63))",
		"UPDATE block_wildcard SET lists = 1 | (1 << (1 + abs(random()) % 63))",
	}
	for id := 1; id < 64; id++ {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO sqlitefilter_lists (id, name) VALUES (%d, 'list%d')", id, id))
	}
	for g := 0; g < 10; g++ {
		mask := int64(-1)
		if g > 0 {
			mask = 1 | 1<<(g+1)
		}
		stmts = append(stmts, fmt.Sprintf("INSERT INTO sqlitefilter_groups (name, lists) VALUES ('g%d', %d)", g, mask))
		for p := 0; p < 3; p++ {
			stmts = append(stmts, fmt.Sprintf("INSERT INTO sqlitefilter_group_clients VALUES ('10.%d.%d.0/24', 'g%d')", g+5, p+1, g))
		}
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	client := netip.MustParseAddr("10.5.1.1")
	for _, cache := range []int{0, 100000} {
		for _, hit := range []bool{true, false} {
			for _, path := range []string{benchPath(b), grouped} {
				name := fmt.Sprintf("cache=%d/%s/%s", cache, map[bool]string{true: "hit", false: "miss"}[hit],
					map[bool]string{true: "groups", false: "none"}[path == grouped])
				b.Run(name, func(b *testing.B) {
					cfg := DefaultConfig()
					cfg.Path, cfg.Pool, cfg.Refresh, cfg.CacheSize, cfg.BloomMaxBytes = path, 1, time.Hour, cache, 0
					f := New(cfg)
					if err := f.Start(); err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { f.Stop() })
					for f.rules.Load() == nil {
						time.Sleep(10 * time.Millisecond)
					}
					names := benchNames(hit, benchRows())
					want := map[bool]policy.Action{true: policy.ActionBlock, false: policy.ActionPass}[hit]
					for _, n := range names {
						if v, err := f.decideFor(n, client, f.currentRules(), new(decideStats), false); err != nil || v.Action != want {
							b.Fatalf("decide(%s) = %v, %v; want %v", n, v, err, want)
						}
					}
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; b.Loop(); i++ {
						f.decideFor(names[i&(len(names)-1)], client, f.currentRules(), new(decideStats), false)
					}
				})
			}
		}
	}
}

// BenchmarkDecideDistinct measures decisions of names never asked before,
// as a resolver sees them under a load of all-distinct names: the Bloom
// filter in front, the verdict cache full (100,000 entries of other
// names), 10 % of the names blocked (under a block_wildcard row, so SQLite
// is asked) and 90 % in no table. No name repeats within the run, so the
// cache never answers: this is the cost of the cache's misses and churn.
//
//	go test -run '^$' -bench DecideDistinct -count 5 ./plugin/sqlitefilter/
func BenchmarkDecideDistinct(b *testing.B) {
	const cacheSize = 100000
	f := benchFilter(b, cacheSize, 256<<20, 1)
	rows := benchRows()
	r := rand.New(rand.NewPCG(3, 4))
	name := func(i int) string {
		if i%10 == 0 {
			return fmt.Sprintf("q%d.", i) + benchRowName(2*r.IntN(rows/2)+1)
		}
		return fmt.Sprintf("x%d.cdn.m%d.site%d.net", i, r.IntN(100), r.IntN(1000))
	}
	for i := range cacheSize { // fills the cache with SQLite-decided verdicts
		f.decide(fmt.Sprintf("fill%d.", i)+benchRowName(2*r.IntN(rows/2)+1), f.currentRules(), new(decideStats))
	}
	names := make([]string, 1<<20)
	for i := range names {
		names[i] = name(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i == len(names) {
			b.Fatal("more iterations than distinct names: raise the count or lower -benchtime")
		}
		f.decide(names[i], f.currentRules(), new(decideStats))
	}
}
