package sqlitefilter

import (
	"fmt"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

func TestCacheServesOnlyWhatItWasFilledUnder(t *testing.T) {
	s1, s2 := &store.Store{}, &store.Store{}
	r1, r2 := &loaded{}, &loaded{}
	block := policy.Verdict{Action: policy.ActionBlock, Rule: policy.Rule{Table: schema.BlockExact, Key: "ads.example.com"}}
	tests := []struct {
		name   string
		store  *store.Store
		gen    uint64
		rules  *loaded
		wantOK bool
	}{
		{"same store, generation and rules", s1, 7, r1, true},
		{"same store, next generation", s1, 8, r1, false},
		{"same store, older generation", s1, 6, r1, false},
		{"swapped store, same generation number", s2, 7, r1, false},
		{"rules rebuilt", s1, 7, r2, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newVerdictCache(100)
			c.put(s1, 7, r1, policy.Everyone, "ads.example.com", block)
			v, ok := c.get(tc.store, tc.gen, tc.rules, policy.Everyone, "ads.example.com")
			if ok != tc.wantOK || (ok && v.Action != block.Action) {
				t.Fatalf("get = %v, %v; want ok=%v", v, ok, tc.wantOK)
			}
		})
	}
}

func TestCacheStaysWithinItsSize(t *testing.T) {
	const size = 1000
	c := newVerdictCache(size)
	s := &store.Store{}
	for i := range 50 * size {
		c.put(s, 1, nil, policy.Everyone, fmt.Sprintf("n%d.example", i), policy.Verdict{})
	}
	n := c.len()
	if limit := size + cacheShards*cacheWays; n > limit || n < size/2 {
		t.Fatalf("cache holds %d entries after 50x its size %d; want about that and not nearly empty", n, size)
	}
	if _, ok := c.get(s, 1, nil, policy.Everyone, fmt.Sprintf("n%d.example", 50*size-1)); !ok {
		t.Fatal("the entry just put is not served")
	}
}

func TestZeroSizeCacheIsOff(t *testing.T) {
	c := newVerdictCache(0)
	s := &store.Store{}
	c.put(s, 1, nil, policy.Everyone, "a.example", policy.Verdict{Action: policy.ActionBlock})
	if _, ok := c.get(s, 1, nil, policy.Everyone, "a.example"); ok {
		t.Fatal("a cache of size 0 served a verdict")
	}
}

// BenchmarkCacheChurn is the cache under names never asked twice (a load of
// distinct names): every get misses and every put evicts. ns/op is one
// get and one put, measured after the cache has turned over many times, as
// it has after minutes of such a load.
//
//	go test -run '^$' -bench CacheChurn ./plugin/sqlitefilter/
func BenchmarkCacheChurn(b *testing.B) {
	const size = 100000
	c := newVerdictCache(size)
	s := &store.Store{}
	names := make([]string, 1<<21)
	for i := range names {
		names[i] = fmt.Sprintf("x%d.cdn.m%d.example", i, i%97)
	}
	v := policy.Verdict{Action: policy.ActionBlock}
	for i := range 20 * size { // turns the cache over 20 times
		c.put(s, 1, nil, policy.Everyone, names[i%len(names)], v)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		n := names[(i+20*size)%len(names)]
		if _, ok := c.get(s, 1, nil, policy.Everyone, n); !ok {
			c.put(s, 1, nil, policy.Everyone, n, v)
		}
	}
}
