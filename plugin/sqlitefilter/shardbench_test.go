package sqlitefilter

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkServeDNS measures a whole query through the in-process server
// (decision, metrics, reply) for a name with no row (the common case: every
// table probed at every suffix) and for a blocked one, on one file.
// go test -run - -bench ServeDNS ./plugin/sqlitefilter
func BenchmarkServeDNS(b *testing.B) {
	rows := rowsOf(wildcard("doubleclick.net"), exact("ads.example.com"), regexRows(`^track[0-9]+\.`))
	benchServe(b, perTypeDB(b, rows))
}

func benchServe(b *testing.B, path string) {
	c := newChain(b, path, "", false)
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
func BenchmarkServeDNSShards(b *testing.B) {
	rows := rowsOf(wildcard("doubleclick.net"), exact("ads.example.com"), regexRows(`^track[0-9]+\.`))
	for _, n := range []int{4, 16} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchServe(b, splitDB(perTypeDB, n)(b, rows)) })
	}
}
