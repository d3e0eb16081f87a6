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
	n := 0
	for i := range c.shards {
		n += len(c.shards[i].m)
	}
	limit := cacheShards * ((size + cacheShards - 1) / cacheShards)
	if n > limit || n < size/2 {
		t.Fatalf("cache holds %d entries after 50x its size; want at most %d and not nearly empty", n, limit)
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
