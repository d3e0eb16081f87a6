package test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// BenchmarkServerFootprint1MRows measures the memory of the shipped binary
// serving from a 1 M-row block_exact table (docs/operator-guide.md,
// "Memory"): RSS after start, and RSS, anonymous and file-backed memory after
// 200 000 queries from 16 clients, half of them blocked names and half misses
// forwarded to the loopback upstream. It reports megabytes, not time:
//
//	go test -run '^$' -bench ServerFootprint -benchtime 1x ./test/
func BenchmarkServerFootprint1MRows(b *testing.B) {
	const rows, queries, clients = 1_000_000, 200_000, 16
	names := make([]string, rows)
	r := rand.New(rand.NewPCG(1, 2))
	tlds := []string{"com", "net", "org", "co.uk"}
	for i := range names {
		names[i] = fmt.Sprintf("%06x.%010x.%s", r.Uint32()&0xffffff, r.Uint64()&0xffffffffff, tlds[i%len(tlds)])
	}
	db := testkit.NewDB(b, schema.PerType, "wal")
	w := testkit.OpenRW(b, db)
	tx, err := w.Begin()
	if err != nil {
		b.Fatal(err)
	}
	ins, err := tx.Prepare(`INSERT OR IGNORE INTO block_exact VALUES (?)`)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range names {
		if _, err := ins.Exec(n); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	w.Close()

	up := testkit.StartUpstream(b, upstreamRecipe)
	srv := startServer(b, corefile(db, up.Addr))
	time.Sleep(time.Second) // let start-up work in the background settle
	idle := procStatus(b, srv.PID())

	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := &dns.Client{Timeout: 2 * time.Second}
				r := rand.New(rand.NewPCG(uint64(c), 3))
				for i := range queries / clients {
					q := fmt.Sprintf("x%d.miss%d.example.", r.Uint64(), c)
					if i%2 == 0 {
						q = names[r.IntN(len(names))] + "."
					}
					if _, _, err := client.Exchange(new(dns.Msg).SetQuestion(q, dns.TypeA), srv.Addr); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	loaded := procStatus(b, srv.PID())
	b.ReportMetric(idle["VmRSS"], "idle-rss-MB")
	b.ReportMetric(loaded["VmRSS"], "rss-MB")
	b.ReportMetric(loaded["RssAnon"], "anon-MB")
	b.ReportMetric(loaded["RssFile"], "file-MB")
	b.ReportMetric(0, "ns/op")
}

// procStatus returns the kB fields of /proc/PID/status, in megabytes.
func procStatus(tb testing.TB, pid int) map[string]float64 {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		f := strings.Fields(v)
		if !ok || len(f) != 2 || f[1] != "kB" {
			continue
		}
		if n, err := strconv.ParseFloat(f[0], 64); err == nil {
			out[k] = n / 1024
		}
	}
	return out
}
