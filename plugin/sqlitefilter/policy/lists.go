package policy

import (
	"math/bits"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// Lists is a set of named lists by id: bit i is the list whose id is i
// (bit 0 is `default`, which rows written without a list are in).
type Lists uint64

// AllLists holds every list.
const AllLists = ^Lists(0)

// DefaultLists holds the list `default` alone: the lists of every row of a
// database without lists.
const DefaultLists Lists = 1

// First is the id of the lowest list of l, -1 when l is empty. A verdict
// names that list when its row is in several.
func (l Lists) First() int {
	if l == 0 {
		return -1
	}
	return bits.TrailingZeros64(uint64(l))
}

// Scope is which lists apply to the client a decision is for: the rows of
// Lists apply, and of the block rows (block_exact, block_wildcard,
// block_regex, fqdn_dns_block) only those of Blocks, which is Lists, or
// none while the client's group is paused.
type Scope struct {
	Lists  Lists
	Blocks Lists
}

// Everyone is the scope in which every row applies: a database without
// groups, and the admin command's explain without --client.
var Everyone = Scope{AllLists, AllLists}

// Has reports whether table t holds a row keyed by key, in any list.
func Has(l Lookup, t schema.Table, key string) (bool, error) {
	m, err := l.Lists(t, key)
	return m != 0, err
}
