package sqlitefilter

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// BenchmarkAnswerCheck measures what answer_check adds to a query whose
// answer has n records, on the cached path: the answer comes from the cache
// plugin and the chain names' verdicts from the verdict cache (or the key
// filter). Two servers over the same database, one with answer_check off,
// answer the same query in turn within each iteration (in alternating
// order), so load from other processes falls on both alike; ns/record is the difference per answer
// record. "cname" answers are a chain of n-1 CNAMEs and an A record (every
// name decided), "a" answers n A records (every address looked up in
// block_ip).
//
//	go test -run '^$' -bench AnswerCheck -count 5 ./plugin/sqlitefilter/
func BenchmarkAnswerCheck(b *testing.B) {
	rows := rowsOf(wildcard("tracker-cdn.test"), exact("ads.example.com"), regexRows(`^track[0-9]+\.`),
		blockIP4("198.18.0.0/15", "203.0.113.66"), blockIP6("2001:db8:bad::/48"))
	path := testkit.NewDB(b, schema.PerType, "wal", rows...)
	for _, kind := range []string{"cname", "a"} {
		for _, n := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/records=%d", kind, n), func(b *testing.B) {
				on, off := newChain(b, path, "", true), newChain(b, path, "answer_check off", true)
				for _, c := range []*chain{on, off} {
					benchAnswer(c, kind, n)
				}
				m := new(dns.Msg)
				m.SetQuestion("bench-0.test.", dns.TypeA)
				for _, c := range []*chain{on, off} {
					if r := c.query(m, false); r == nil || len(r.Answer) != n {
						b.Fatalf("answer %v, want %d records", r, n)
					}
				}
				var tOn, tOff time.Duration
				first := false
				for b.Loop() {
					// Each goes first in every other iteration: the first
					// query of a pair meets colder CPU caches.
					first = !first
					if first {
						tOn += timed(on, m)
						tOff += timed(off, m)
					} else {
						tOff += timed(off, m)
						tOn += timed(on, m)
					}
				}
				b.ReportMetric(float64(tOn)/float64(b.N), "ns/query-checked")
				b.ReportMetric(float64(tOff)/float64(b.N), "ns/query-unchecked")
				b.ReportMetric(float64(tOn-tOff)/float64(b.N)/float64(n), "ns/record")
			})
		}
	}
}

func timed(c *chain, m *dns.Msg) time.Duration {
	t := time.Now()
	c.query(m, false)
	return time.Since(t)
}

// benchAnswer makes c's next plugin answer bench-0.test with n records of
// kind.
func benchAnswer(c *chain, kind string, n int) {
	if kind == "cname" {
		for i := range n - 1 {
			c.next.recipe.CNAME[fmt.Sprintf("bench-%d.test.", i)] = fmt.Sprintf("bench-%d.test.", i+1)
		}
		return
	}
	c.next.edit = func(_ dns.ResponseWriter, m *dns.Msg) {
		for i := 1; i < n; i++ {
			m.Answer = append(m.Answer, test.A(fmt.Sprintf("bench-0.test. 300 IN A 192.0.2.%d", i+1)))
		}
	}
}

// BenchmarkAnswerCheckWrite is the check alone, without the server around
// it: the answer writer of a query that passed, with answer_check on and
// off, writing the same answer of n records to a writer that drops it.
// ns/record is the difference per answer record; the chain names' verdicts
// are in the verdict cache after the first write.
//
//	go test -run '^$' -bench AnswerCheckWrite -count 5 ./plugin/sqlitefilter/
func BenchmarkAnswerCheckWrite(b *testing.B) {
	rows := rowsOf(wildcard("tracker-cdn.test"), exact("ads.example.com"), regexRows(`^track[0-9]+\.`),
		blockIP4("198.18.0.0/15", "203.0.113.66"), blockIP6("2001:db8:bad::/48"))
	c := newChain(b, testkit.NewDB(b, schema.PerType, "wal", rows...), "", false)
	for _, kind := range []string{"cname", "a"} {
		for _, n := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/records=%d", kind, n), func(b *testing.B) {
				r := new(dns.Msg)
				r.SetQuestion("bench-0.test.", dns.TypeA)
				m := benchReply(r, kind, n)
				ctx := context.Background()
				on, _ := c.f.answerWriter(ctx, &discard{}, r, c.f.currentRules(), policy.Verdict{}, "bench-0.test", netip.Addr{}, new(decideStats))
				off := &answerWriter{ResponseWriter: &discard{}}
				on.WriteMsg(m)
				var tOn, tOff time.Duration
				first := false
				for b.Loop() {
					first = !first
					if first {
						tOn += timedWrite(on, m)
						tOff += timedWrite(off, m)
					} else {
						tOff += timedWrite(off, m)
						tOn += timedWrite(on, m)
					}
				}
				b.ReportMetric(float64(tOn-tOff)/float64(b.N)/float64(n), "ns/record")
			})
		}
	}
}

func timedWrite(w dns.ResponseWriter, m *dns.Msg) time.Duration {
	t := time.Now()
	w.WriteMsg(m)
	return time.Since(t)
}

// benchReply is an answer to r of n records of kind, as benchAnswer.
func benchReply(r *dns.Msg, kind string, n int) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	for i := range n - 1 {
		if kind == "cname" {
			m.Answer = append(m.Answer, test.CNAME(fmt.Sprintf("bench-%d.test. 300 IN CNAME bench-%d.test.", i, i+1)))
		} else {
			m.Answer = append(m.Answer, test.A(fmt.Sprintf("bench-0.test. 300 IN A 192.0.2.%d", i+2)))
		}
	}
	last := "bench-0.test."
	if kind == "cname" {
		last = fmt.Sprintf("bench-%d.test.", n-1)
	}
	m.Answer = append(m.Answer, test.A(last+" 300 IN A 192.0.2.1"))
	return m
}

// discard is a ResponseWriter that drops what it is given.
type discard struct{ test.ResponseWriter }

func (*discard) WriteMsg(*dns.Msg) error { return nil }
