package bloom

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func TestBloomNeverMissesAnAddedKey(t *testing.T) {
	const n = 200000
	b := newFilter(n)
	for i := range n {
		b.add(fmt.Appendf(nil, "host-%d.Example.COM", i))
	}
	for i := range n {
		if k := fmt.Sprintf("host-%d.example.com", i); !b.mayContain(k) {
			t.Fatalf("%s was added (in upper case) but the filter says absent", k)
		}
	}
}

func TestBloomFalsePositiveRateNearOnePercent(t *testing.T) {
	const n = 200000
	b := newFilter(n)
	for i := range n {
		b.add(fmt.Appendf(nil, "in-%d.example.com", i))
	}
	fp := 0
	for i := range n {
		if b.mayContain(fmt.Sprintf("out-%d.example.net", i)) {
			fp++
		}
	}
	if rate := float64(fp) / n; rate > 0.02 {
		t.Fatalf("false positive rate %.4f at %d bits per key, want under 0.02", rate, bloomBitsPerKey)
	}
}

func TestBloomHashesLongKeysFolded(t *testing.T) {
	long := make([]byte, 300)
	for i := range long {
		long[i] = 'A' + byte(i%26)
	}
	b := newFilter(10)
	b.add(long)
	low := make([]byte, len(long))
	for i, c := range long {
		low[i] = c + 'a' - 'A'
	}
	if !b.mayContain(string(low)) {
		t.Fatal("a 300-byte key added in upper case is not found in lower case")
	}
}

// TestHashFoldedFoldsEveryUpperCaseByte: the word-at-a-time check finds an
// upper-case letter at any position and of any length, and leaves other
// bytes (non-ASCII, '@', '[', '`', '{') alone.
func TestHashFoldedFoldsEveryUpperCaseByte(t *testing.T) {
	const seed = 0x9e3779b97f4a7c15
	for n := 1; n <= 40; n++ {
		for i := range n {
			for _, c := range []byte("AMZ@[`{\x80\xc1\xdaaz") {
				key := []byte(strings.Repeat("q", n))
				key[i] = c
				want := bytes.Clone(key)
				if 'A' <= c && c <= 'Z' {
					want[i] = c + 'a' - 'A'
				}
				if hashFolded(seed, key) != hashFolded(seed, want) || hashFolded(seed, key) != xxhash.Sum64(want)^seed {
					t.Fatalf("%q hashes as %q would not", key, want)
				}
			}
		}
	}
}

// BenchmarkBatchAdd is the part of a build after the keys are read: hashing
// and setting bits, at a filter size (KEYS, default 10 M) where every add
// misses the cache.
func BenchmarkBatchAdd(b *testing.B) {
	n := 10_000_000
	if v, err := strconv.Atoi(os.Getenv("KEYS")); err == nil {
		n = v
	}
	keys := make([][]byte, 1<<16)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "host-%d.some-domain-%d.example", i, i*7)
	}
	f := newFilter(int64(n))
	var batch hashBatch
	for i := 0; b.Loop(); i++ {
		k := keys[i&(len(keys)-1)]
		k[0] = byte(i >> 16) // another key each time round
		batch.add(f, k)
	}
	batch.flush(f)
}
