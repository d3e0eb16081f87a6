package bloom

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// filter is a split-block Bloom filter (the layout Parquet and Impala use):
// a key's hash picks one 32-byte block, and sets one bit in each of the
// block's eight 32-bit words. A check therefore touches a single cache line,
// where a classic Bloom filter with k = 7 touches seven: ~1 cache miss per
// probed suffix instead of ~7. At bloomBitsPerKey bits per key its false
// positive rate is about 1 %.
//
// Bits are set with atomic OR and read with atomic loads (plain loads on
// amd64 and arm64), so keys can be added while queries read the filter,
// without a lock.
type filter struct {
	words  []uint32 // 8 per block
	blocks uint64
	// seed is XORed into every key's hash, so that which block a name
	// lands in cannot be known outside the filter (nor the names that
	// share its bits). The hash itself is XXH64, fixed, because a filter
	// can be stored in its file and read by another process (stored.go).
	seed  uint64
	added atomic.Int64 // keys added, for re-sizing
}

// bloomBitsPerKey: 10 bits per key gives ~1 % false positives; each false
// positive costs one SQLite probe (~2 µs), so halving it would save little.
const bloomBitsPerKey = 10

// bloomBlockBytes is the size of one block: eight 32-bit words.
const bloomBlockBytes = 32

// bloomSalt are the odd multipliers of the split-block scheme: word i of the
// block gets bit (h*salt[i]) >> 27.
var bloomSalt = [8]uint32{0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31}

// bloomBytes is the memory a filter for n keys takes.
func bloomBytes(n int64) int64 {
	blocks := (max(n, 1)*bloomBitsPerKey + bloomBlockBytes*8 - 1) / (bloomBlockBytes * 8)
	return blocks * bloomBlockBytes
}

// newFilter returns an empty filter sized for n keys.
//
// The bit array is mapped outside the Go heap: on the heap, a 150 MB filter
// would let the garbage collector grow the heap to twice that (GOGC=100)
// before collecting the garbage the build makes, so RSS would be ~2× the
// filter. It is unmapped by a finalizer once no query holds the filter.
func newFilter(n int64) *filter {
	return newFilterOf(uint64(bloomBytes(n)/bloomBlockBytes), rand.Uint64())
}

// newFilterOf returns an empty filter of the given blocks and seed.
func newFilterOf(blocks, seed uint64) *filter {
	b := &filter{blocks: blocks, seed: seed}
	mem, err := syscall.Mmap(-1, 0, int(blocks*bloomBlockBytes), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		b.words = make([]uint32, blocks*8)
		return b
	}
	// Every add and check lands on a random block: with 4 KiB pages, a
	// filter of 100 M keys spans 30,000 of them, and most accesses miss
	// the TLB before they miss the cache. a 2 MiB page, where the kernel
	// grants them on request, covers 512 times the memory per TLB entry. Refused, the
	// filter works as it is.
	_ = syscall.Madvise(mem, madvHugepage)
	b.words = unsafe.Slice((*uint32)(unsafe.Pointer(&mem[0])), blocks*8)
	runtime.SetFinalizer(b, func(*filter) { syscall.Munmap(mem) })
	return b
}

// madvHugepage is Linux's MADV_HUGEPAGE.
const madvHugepage = 14

// sizeBytes is the memory the filter's bit array takes.
func (b *filter) sizeBytes() int64 { return int64(len(b.words)) * 4 }

// capacity is the number of keys the filter was sized for.
func (b *filter) capacity() int64 { return int64(b.blocks) * bloomBlockBytes * 8 / bloomBitsPerKey }

func (b *filter) block(h uint64) []uint32 {
	// Lemire's multiply-shift maps the high half of h onto [0, blocks)
	// without a division.
	hi, _ := bits.Mul64(h, b.blocks)
	i := hi * 8
	return b.words[i : i+8 : i+8]
}

// add inserts a key, ASCII-folded to lower case first: rows should be stored
// canonical, but a column compared with NOCASE would match a query for the
// lower-case form, and the filter must never under-report.
func (b *filter) add(key []byte) {
	h := hashFolded(b.seed, key)
	blk := b.block(h)
	lo := uint32(h)
	for i := range blk {
		atomic.OrUint32(&blk[i], 1<<((lo*bloomSalt[i])>>27))
	}
	b.added.Add(1)
	runtime.KeepAlive(b) // the finalizer must not unmap blk while it is in use
}

// hashBatch adds keys to a filter no query reads yet, in batches: the keys
// are hashed first, then the blocks set, with plain stores rather than
// atomic ones. The blocks of consecutive keys are unrelated, so the second
// loop keeps many cache misses in flight at once instead of waiting for each
// in turn; a build of a hundred million keys is made of little else.
type hashBatch struct {
	h    [512]uint64
	n    int
	sink uint32 // keeps the compiler from dropping flush's loads
}

func (hb *hashBatch) add(b *filter, key []byte) {
	hb.h[hb.n] = hashFolded(b.seed, key)
	if hb.n++; hb.n == len(hb.h) {
		hb.flush(b)
	}
}

func (hb *hashBatch) flush(b *filter) {
	// Load each block once first: the loads do not depend on one another,
	// so the core keeps as many misses in flight as it has buffers for, and
	// the stores that follow find their lines in the cache. Setting the bits
	// straight away would wait for every miss behind the store buffer.
	var sink uint32
	for _, h := range hb.h[:hb.n] {
		sink ^= b.block(h)[0]
	}
	for _, h := range hb.h[:hb.n] {
		blk := b.block(h)
		lo := uint32(h)
		for i := range blk {
			blk[i] |= 1 << ((lo * bloomSalt[i]) >> 27)
		}
	}
	b.added.Add(int64(hb.n))
	hb.n = 0
	hb.sink = sink
	runtime.KeepAlive(b)
}

// addString is add for a key the driver returned as a string.
func (b *filter) addString(key string) {
	b.add(unsafe.Slice(unsafe.StringData(key), len(key)))
}

// mayContain reports whether key may have been added; false is certain. The
// key must already be canonical (lower case), as query names are.
func (b *filter) mayContain(key string) bool {
	h := xxhash.Sum64String(key) ^ b.seed
	blk := b.block(h)
	lo := uint32(h)
	found := true
	for i := range blk {
		if atomic.LoadUint32(&blk[i])&(1<<((lo*bloomSalt[i])>>27)) == 0 {
			found = false
			break
		}
	}
	runtime.KeepAlive(b) // the finalizer must not unmap blk while it is in use
	return found
}

// hashFolded hashes key as if it were ASCII lower case, without allocating.
func hashFolded(seed uint64, key []byte) uint64 {
	i := firstUpper(key)
	if i < 0 {
		return xxhash.Sum64(key) ^ seed
	}
	var buf [256]byte
	low := buf[:0]
	if len(key) > len(buf) {
		low = make([]byte, 0, len(key))
	}
	low = append(low, key[:i]...)
	for _, c := range key[i:] {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low = append(low, c)
	}
	return xxhash.Sum64(low) ^ seed
}

// firstUpper returns the index of key's first ASCII upper-case letter, or -1.
// Keys are nearly always lower case already, so it looks at eight bytes at
// a time: a build hashes every key of the database.
func firstUpper(key []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(key); i += 8 {
		x := binary.LittleEndian.Uint64(key[i:])
		// With each byte's high bit cleared first, adding cannot carry
		// into the next byte; a byte is in 'A'..'Z' when adding 0x80-'A'
		// sets its high bit and adding 0x80-'Z'-1 does not, and it was
		// ASCII to begin with.
		y := x &^ highs
		if (y+(0x80-'A')*ones)&^(y+(0x80-'Z'-1)*ones)&^x&highs != 0 {
			break
		}
	}
	for ; i < len(key); i++ {
		if c := key[i]; 'A' <= c && c <= 'Z' {
			return i
		}
	}
	return -1
}
