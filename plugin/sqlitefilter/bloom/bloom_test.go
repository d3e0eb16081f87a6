package bloom

import (
	"fmt"
	"testing"
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
