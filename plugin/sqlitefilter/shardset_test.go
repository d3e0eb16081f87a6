package sqlitefilter

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// touch creates empty files named names in dir and returns their paths.
func touch(t *testing.T, dir string, names ...string) []string {
	t.Helper()
	var paths []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func TestParseShardForms(t *testing.T) {
	dir := t.TempDir()
	// Created out of order: the shard order is the order of the names.
	files := touch(t, dir, "shard-02.db", "shard-00.db", "shard-01.db")
	sorted := []string{files[1], files[2], files[0]}
	touch(t, dir, "shard-00.db-wal", "other.db")
	want := func(f func(*Config)) Config {
		c := DefaultConfig()
		f(&c)
		return c
	}
	tests := []struct {
		name, input string
		want        Config
	}{
		{"one file", "sqlitefilter /data/dns.db", want(func(c *Config) { c.Path = "/data/dns.db" })},
		{"listed shards", "sqlitefilter /d/a.db /d/b.db /d/c.db", want(func(c *Config) {
			c.Path, c.Shards, c.NumShards = "/d/a.db /d/b.db /d/c.db", []string{"/d/a.db", "/d/b.db", "/d/c.db"}, 3
		})},
		{"listed shards with a matching count", "sqlitefilter /d/a.db /d/b.db {\nshards 2\n}", want(func(c *Config) {
			c.Path, c.Shards, c.NumShards = "/d/a.db /d/b.db", []string{"/d/a.db", "/d/b.db"}, 2
		})},
		{"a pattern takes the files it matches now, by name", "sqlitefilter " + dir + "/shard-*.db", want(func(c *Config) {
			c.Path, c.Shards, c.NumShards = dir+"/shard-*.db", sorted, 3
		})},
		{"a pattern matching one file is one file", "sqlitefilter " + dir + "/other*.db", want(func(c *Config) {
			c.Path = dir + "/other.db"
		})},
		{"a pattern with shards N is resolved at open", "sqlitefilter /nowhere/shard-*.db {\nshards 16\n}", want(func(c *Config) {
			c.Path, c.ShardPattern, c.NumShards = "/nowhere/shard-*.db", "/nowhere/shard-*.db", 16
		})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse(caddy.NewTestController("dns", tc.input))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseShardErrorsNameTheLine(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "s-0.db", "s-1.db")
	tests := []struct{ input, want string }{
		{"# a comment\nsqlitefilter /nowhere/shard-*.db", "Testfile:2 - Error during parsing: /nowhere/shard-*.db matches no file; if the shards arrive after the server starts, say how many with `shards N`"},
		{"sqlitefilter /d/a.db /d/s-*.db", "Testfile:1 - Error during parsing: a PATTERN (/d/a.db /d/s-*.db) must be the only argument"},
		{"sqlitefilter /d/s-[.db", "Testfile:1 - Error during parsing: \"/d/s-[.db\": syntax error in pattern"},
		{"sqlitefilter /d/a.db /d/b.db {\nshards 3\n}", "Testfile:1 - Error during parsing: shards 3, but 2 files are listed"},
		{"sqlitefilter /d/a.db /d/b.db /d/a.db", "/d/a.db is listed twice"},
		{"sqlitefilter /d/a.db {\nshards 0\n}", "Testfile:2 - Error during parsing: shards: \"0\" is not a number of shards from 1 to 1024"},
		{"sqlitefilter /d/a.db {\nshards two\n}", "shards: \"two\""},
		{"sqlitefilter /d/s-*.db {\nshards 2 3\n}", "shards: \"2 3\""},
		{"sqlitefilter " + dir + "/s-*.db {\nshards 3\n}", ""}, // resolved at open: no error now
	}
	for _, tc := range tests {
		_, err := parse(caddy.NewTestController("dns", tc.input))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.input, err)
		case tc.want == "":
		case err == nil:
			t.Errorf("%q: no error", tc.input)
		case !strings.Contains(err.Error(), tc.want):
			t.Errorf("%q: error %q does not mention %q", tc.input, err, tc.want)
		}
	}
}

// splitShards splits src into n shards and returns their PATTERN.
func splitShards(t testing.TB, src string, n int) string {
	t.Helper()
	_, pattern := testkit.SplitShards(t, src, n)
	return pattern
}

// shardedDB creates a per-type database holding rows and splits it into n
// shards (splitShards).
func shardedDB(t testing.TB, n int, rows ...testkit.Row) string {
	t.Helper()
	return splitShards(t, testkit.NewDB(t, schema.PerType, "wal", rows...), n)
}

// The conformance suite over 3 shards: every reply through ServeDNS is the
// one the unsplit file gives (the suite's expected replies are the
// single-file ones).
func TestConformanceThreeShardsPerType(t *testing.T) {
	runConformance(t, schema.PerType, 3)
}

func TestConformanceThreeShardsNormalized(t *testing.T) {
	runConformance(t, schema.Normalized, 3)
}

// TestShardedServeDNSEqualsTheUnsplitFile asks the server over 1 to 16
// shards every name of the shard corpus, and compares the replies with a
// server on the unsplit file.
func TestShardedServeDNSEqualsTheUnsplitFile(t *testing.T) {
	rows, queries := testkit.ShardCorpus()
	single := newChain(t, testkit.NewDB(t, schema.PerType, "wal", rows...), "", false)
	for _, n := range []int{2, 4, 16} {
		t.Run(fmt.Sprintf("%d shards", n), func(t *testing.T) {
			c := newChain(t, shardedDB(t, n, rows...), "", false)
			if !c.f.cfg.sharded() || len(c.f.files) != n {
				t.Fatalf("sharded %t over %d files, want %d shards", c.f.cfg.sharded(), len(c.f.files), n)
			}
			for _, q := range queries {
				for _, qt := range []uint16{dns.TypeA, dns.TypeCNAME} {
					m := new(dns.Msg)
					m.SetQuestion(dns.Fqdn(q), qt)
					want, got := single.query(m, false), c.query(m, false)
					if want.String() != got.String() {
						t.Errorf("%s %s:\nsharded %v\nunsplit %v", q, dns.TypeToString[qt], got, want)
					}
				}
			}
		})
	}
}

// TestShardsArriveAfterStart: with `shards N` the server starts without its
// files, is not ready and answers as on_error says; once every shard is
// there it is ready and filters.
func TestShardsArriveAfterStart(t *testing.T) {
	src := testkit.NewDB(t, schema.PerType, "wal", rowsOf(wildcard("doubleclick.net"), exact("ads.example.com"))...)
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Path, cfg.ShardPattern, cfg.NumShards, cfg.Refresh = dir+"/shard-*.db", dir+"/shard-*.db", 4, 10*time.Millisecond
	f := New(cfg)
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	if f.Ready() {
		t.Fatal("ready without shards")
	}
	if _, err := f.decide("x.doubleclick.net", nil, new(decideStats)); err == nil {
		t.Fatal("a decision without shards must fail (on_error applies)")
	}
	// Three of four: still waiting, never deciding with the wrong count.
	paths := []string{dir + "/shard-0.db", dir + "/shard-1.db", dir + "/shard-2.db", dir + "/shard-3.db"}
	if err := schema.Split(src, paths[:3]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if f.Ready() || f.files.first() != nil {
		t.Fatal("took up 3 files as a set of 4 shards")
	}
	if err := schema.Split(src, paths); err != nil {
		t.Fatal(err)
	}
	if !testkit.Poll(10*time.Second, f.Ready) {
		t.Fatal("not ready once every shard is there")
	}
	for name, want := range map[string]policy.Action{"x.doubleclick.net": policy.ActionBlock, "ads.example.com": policy.ActionBlock, "www.example.com": policy.ActionPass} {
		if v, err := f.decide(name, nil, new(decideStats)); err != nil || v.Action != want {
			t.Errorf("%s: %+v, %v; want %s", name, v, err, want)
		}
	}
}

// TestAMissingShardFailsOnlyTheDecisionsThatNeedIt: a decision that probes
// a shard that is not open fails (on_error); the server is not ready.
func TestAMissingShardFailsOnlyTheDecisionsThatNeedIt(t *testing.T) {
	pattern := shardedDB(t, 4, exact("ads.example.com")...)
	c := newChain(t, pattern, "refresh 1h", false)
	// Take one shard away as if it had never opened.
	var gone int
	for i := 1; i < 4; i++ {
		if i != schema.ShardOf("com", 4) && i != schema.ShardOf("example.com", 4) {
			gone = i
			break
		}
	}
	if gone == 0 {
		t.Skip("no shard free of com and example.com")
	}
	s := c.f.files[gone].store.Swap(nil)
	defer s.Close()
	if c.f.Ready() {
		t.Error("ready with a shard missing")
	}
	var needs, spares string
	for i := range 1000 {
		n := fmt.Sprintf("n%d.example.com", i)
		switch {
		case schema.ShardOf(n, 4) == gone && needs == "":
			needs = n
		case schema.ShardOf(n, 4) != gone && spares == "":
			spares = n
		}
	}
	if _, err := c.f.decide(needs, nil, new(decideStats)); err == nil {
		t.Errorf("%s is probed in the missing shard %d: want an error", needs, gone)
	}
	if _, err := c.f.decide(spares, nil, new(decideStats)); err != nil {
		t.Errorf("%s needs no missing shard: %v", spares, err)
	}
	if got := c.query(queryA(dns.Fqdn(needs)), false); got.Rcode != dns.RcodeServerFailure {
		t.Errorf("fail_closed: %v", got)
	}
}

// TestDataGenerationFollowsEveryShard: a change in any shard moves the
// combined generation on.
func TestDataGenerationFollowsEveryShard(t *testing.T) {
	pattern := shardedDB(t, 3)
	c := newChain(t, pattern, "refresh 1h", false)
	for i, d := range c.f.files {
		before := c.f.files.generation()
		testkit.InsertRows(t, d.path, exact(fmt.Sprintf("x%d.test", i))...)
		if changed, err := d.store.Load().Refresh(); err != nil || !changed {
			t.Fatalf("shard %d: Refresh = %t, %v", i, changed, err)
		}
		if after := c.f.files.generation(); after <= before {
			t.Errorf("shard %d changed: generation %d, was %d", i, after, before)
		}
	}
}

// TestShardedDecisionsDoNotDeadlockOnSmallPools: many concurrent decisions
// over shards with one connection each. A decision that waited for one
// shard's pool while holding another's could wait for ever on a decision
// doing the reverse.
func TestShardedDecisionsDoNotDeadlockOnSmallPools(t *testing.T) {
	rows, queries := testkit.ShardCorpus()
	c := newChain(t, shardedDB(t, 4, rows...), "pool 1", false)
	done := make(chan error, 16)
	for w := range 16 {
		go func() {
			for i := range 200 {
				if _, err := c.f.decide(queries[(w*31+i)%len(queries)], nil, new(decideStats)); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	// Not a timing assertion: a deadlock never ends, and a minute is
	// hundreds of times what the decisions take.
	timeout := time.After(time.Minute)
	for range 16 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-timeout:
			// Not t.Fatal: Stop would wait for the deadlocked
			// connections for ever. The panic shows every goroutine.
			panic("decisions still running after a minute: deadlock between shard pools")
		}
	}
}
