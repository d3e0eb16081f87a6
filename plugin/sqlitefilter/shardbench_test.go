package sqlitefilter

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// BenchmarkServeDNS measures a whole query through the in-process server
// (decision, metrics, reply) for a name with no row (the common case: every
// table probed at every suffix) and for a blocked one, on one file.
// go test -run - -bench ServeDNS ./plugin/sqlitefilter
func BenchmarkServeDNS(b *testing.B) {
	rows := rowsOf(wildcard("doubleclick.net"), exact("ads.example.com"), regexRows(`^track[0-9]+\.`))
	benchServe(b, testkit.NewDB(b, schema.PerType, "wal", rows...))
}

func benchServe(b *testing.B, path string) { benchServeWith(b, path, "") }

// benchServeWith is benchServe with Corefile options.
func benchServeWith(b *testing.B, path, options string) {
	c := newChain(b, path, options, false)
	for _, name := range []string{"a.b.www.example.org.", "x.doubleclick.net."} {
		b.Run(name, func(b *testing.B) {
			m := new(dns.Msg)
			m.SetQuestion(name, dns.TypeA)
			for b.Loop() {
				if r := c.query(m, false); r == nil || r.Rcode != dns.RcodeSuccess {
					b.Fatalf("%s: %v", name, r)
				}
			}
		})
	}
}

// BenchmarkServeDNSShards is BenchmarkServeDNS over the same rows split into
// shards: the cost of routing each probe and taking a connection per shard.
// split writes rollback-journal files, where every probe takes SQLite's
// file lock (see Store); "wal" switches the shards to WAL mode first, as
// the single-file benchmark's database is, to compare like with like.
func BenchmarkServeDNSShards(b *testing.B) {
	rows := rowsOf(wildcard("doubleclick.net"), exact("ads.example.com"), regexRows(`^track[0-9]+\.`))
	for _, n := range []int{4, 16} {
		for _, wal := range []bool{false, true} {
			b.Run(fmt.Sprintf("%d/wal=%t", n, wal), func(b *testing.B) {
				pattern := shardedDB(b, n, rows...)
				if wal {
					paths, _ := filepath.Glob(pattern)
					for _, p := range paths {
						walMode(b, p)
					}
				}
				benchServe(b, pattern)
			})
		}
	}
}

// BenchmarkServeDNSRollbackJournal is BenchmarkServeDNS on one file in
// rollback-journal mode, as split and import --replace write them.
func BenchmarkServeDNSRollbackJournal(b *testing.B) {
	rows := rowsOf(wildcard("doubleclick.net"), exact("ads.example.com"), regexRows(`^track[0-9]+\.`))
	pattern := shardedDB(b, 1, rows...)
	paths, _ := filepath.Glob(pattern)
	benchServe(b, paths[0])
}

func walMode(b *testing.B, path string) {
	db := testkit.OpenRW(b, path)
	defer db.Close()
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode=WAL").Scan(&mode); err != nil || mode != "wal" {
		b.Fatalf("%s: journal mode %q, %v", path, mode, err)
	}
}

// BenchmarkServeDNSJournalModes compares one file in WAL and in rollback-
// journal mode with the verdict cache and the key filter off, so that every
// query reads SQLite: the cost of the journal mode itself.
func BenchmarkServeDNSJournalModes(b *testing.B) {
	rows := rowsOf(wildcard("doubleclick.net"), exact("ads.example.com"), regexRows(`^track[0-9]+\.`))
	for _, mode := range []string{"wal", "delete"} {
		b.Run(mode, func(b *testing.B) {
			benchServeWith(b, testkit.NewDB(b, schema.PerType, mode, rows...), "cache_size 0\nbloom_max_memory 0")
		})
	}
}
