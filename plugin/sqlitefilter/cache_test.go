package sqlitefilter

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

func TestCacheServesOnlyWhatItWasFilledUnder(t *testing.T) {
	block := policy.Verdict{Action: policy.ActionBlock, Rule: policy.Rule{Table: schema.BlockExact, Key: "ads.example.com"}}
	under := cacheKey{store: 1, gen: 7, rules: 1}
	tests := []struct {
		name   string
		key    cacheKey
		scope  policy.Scope
		wantOK bool
	}{
		{"same store, generation and rules", under, policy.Everyone, true},
		{"same store, next generation", cacheKey{1, 8, 1}, policy.Everyone, false},
		{"same store, older generation", cacheKey{1, 6, 1}, policy.Everyone, false},
		{"swapped store, same generation number", cacheKey{2, 7, 1}, policy.Everyone, false},
		{"rules rebuilt", cacheKey{1, 7, 2}, policy.Everyone, false},
		{"another client's lists", under, policy.Scope{Lists: 1, Blocks: 1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newVerdictCache(100)
			c.put(under, policy.Everyone, "ads.example.com", block)
			v, ok := c.get(tc.key, tc.scope, "ads.example.com")
			if ok != tc.wantOK || (ok && !reflect.DeepEqual(v, block)) {
				t.Fatalf("get = %v, %v; want ok=%v", v, ok, tc.wantOK)
			}
		})
	}
}

// TestCacheKeepsWhatFitsAnEntry: a verdict comes back as it was put when
// its rule's key is the name or a parent of it (or it names no row); the
// others (a regex pattern, an alias chain, a skipped row, a name longer
// than an entry holds) are not kept, and are decided again.
func TestCacheKeepsWhatFitsAnEntry(t *testing.T) {
	long := strings.Repeat("a", cacheNameMax-len(".example")+1) + ".example"
	tests := []struct {
		name, qname string
		v           policy.Verdict
		kept        bool
	}{
		{"exact row", "ads.example.com", policy.Verdict{Action: policy.ActionBlock, Rule: policy.Rule{Table: schema.BlockExact, Key: "ads.example.com"}, Lists: 1}, true},
		{"wildcard row above", "x.y.tracker.example", policy.Verdict{Action: policy.ActionBlock, Rule: policy.Rule{Table: schema.BlockWildcard, Key: "tracker.example"}, Lists: 4}, true},
		{"allow row above", "a.ok.example", policy.Verdict{Action: policy.ActionAllow, Rule: policy.Rule{Table: schema.Allow, Key: "ok.example"}}, true},
		{"no row", "clean.example", policy.Verdict{}, true},
		{"a key ending the name inside a label", "xtracker.example", policy.Verdict{Action: policy.ActionBlock, Rule: policy.Rule{Table: schema.BlockWildcard, Key: "tracker.example"}}, false},
		{"regex", "ad1.example", policy.Verdict{Action: policy.ActionBlock, Rule: policy.Rule{Table: schema.BlockRegex, Key: `^ad[0-9]\.`}}, false},
		{"alias", "www.intel.com", policy.Verdict{Action: policy.ActionAlias, Target: "www.keweon.center", Aliases: []policy.Hop{{Name: "www.keweon.center"}}}, false},
		{"skipped row", "a.example", policy.Verdict{Skipped: []policy.Skipped{{Reason: policy.ReasonBadTarget}}}, false},
		{"name longer than an entry", long, policy.Verdict{Action: policy.ActionBlock, Rule: policy.Rule{Table: schema.BlockExact, Key: long}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newVerdictCache(100)
			k := cacheKey{1, 1, 1}
			c.put(k, policy.Everyone, tc.qname, tc.v)
			v, ok := c.get(k, policy.Everyone, tc.qname)
			if ok != tc.kept {
				t.Fatalf("kept = %v, want %v", ok, tc.kept)
			}
			if ok && !reflect.DeepEqual(v, tc.v) {
				t.Fatalf("got back %+v, want %+v", v, tc.v)
			}
		})
	}
}

// TestCacheEntriesHoldNoPointers: the garbage collector never scans the
// cache's entries, whatever their number.
func TestCacheEntriesHoldNoPointers(t *testing.T) {
	var walk func(reflect.Type) bool
	walk = func(ty reflect.Type) bool {
		switch ty.Kind() {
		case reflect.Pointer, reflect.String, reflect.Slice, reflect.Map, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
			return true
		case reflect.Array:
			return walk(ty.Elem())
		case reflect.Struct:
			for i := range ty.NumField() {
				if walk(ty.Field(i).Type) {
					return true
				}
			}
		}
		return false
	}
	if walk(reflect.TypeOf(cacheSlot{})) {
		t.Fatal("cacheSlot holds a pointer")
	}
}

func TestCacheStaysWithinItsSize(t *testing.T) {
	const size = 1000
	c := newVerdictCache(size)
	k := cacheKey{1, 1, 0}
	for i := range 50 * size {
		c.put(k, policy.Everyone, fmt.Sprintf("n%d.example", i), policy.Verdict{})
	}
	n := c.len()
	if limit := size + cacheShards*cacheWays; n > limit || n < size/2 {
		t.Fatalf("cache holds %d entries after 50x its size %d; want about that and not nearly empty", n, size)
	}
	if _, ok := c.get(k, policy.Everyone, fmt.Sprintf("n%d.example", 50*size-1)); !ok {
		t.Fatal("the entry just put is not served")
	}
}

func TestZeroSizeCacheIsOff(t *testing.T) {
	c := newVerdictCache(0)
	k := cacheKey{1, 1, 0}
	c.put(k, policy.Everyone, "a.example", policy.Verdict{Action: policy.ActionBlock})
	if _, ok := c.get(k, policy.Everyone, "a.example"); ok {
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
	k := cacheKey{1, 1, 0}
	names := make([]string, 1<<21)
	for i := range names {
		names[i] = fmt.Sprintf("x%d.cdn.m%d.example", i, i%97)
	}
	v := policy.Verdict{Action: policy.ActionBlock}
	for i := range 20 * size { // turns the cache over 20 times
		c.put(k, policy.Everyone, names[i%len(names)], v)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		n := names[(i+20*size)%len(names)]
		if _, ok := c.get(k, policy.Everyone, n); !ok {
			c.put(k, policy.Everyone, n, v)
		}
	}
}
