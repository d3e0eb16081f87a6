package schema

import (
	"database/sql"
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// The lists column of a rule row (ListsColumn) holds, from ListCodesVersion
// on, the row's mask encoded so that the common row, in exactly one list,
// costs SQLite one byte whatever the list. SQLite stores an integer in as
// few bytes as its value needs: 0 for 0 and 1, 1 for -128..127, then 2, 3,
// 4, 6 or 8. A plain mask of one list i takes 1<<i: 8 bytes for list 63.
//
// The code swaps two small sets of values and keeps every other one:
//
//   - the mask of one list i, 7 <= i <= 63, is stored as -(i+1), i.e.
//     -8..-64;
//   - the masks whose int64 value is -64..-8 (bit 63 and nearly every other
//     bit set, which no real row has) are stored as 1<<(-v-1), the values
//     the first rule frees;
//   - every other mask is stored as it is: the masks of lists 0..6 only
//     (1..127; `default` is 1, the column's DEFAULT, so a row written
//     without naming a list is still in `default`), and every other
//     multi-list mask.
//
// The code is its own inverse: EncodeLists and DecodeLists are one
// function. The groups' lists column is a plain mask.

// EncodeLists is the value the lists column stores for mask.
func EncodeLists(mask uint64) int64 { return swapLists(int64(mask)) }

// DecodeLists is the mask of a value of the lists column.
func DecodeLists(v int64) uint64 { return uint64(swapLists(v)) }

// swapLists is the involution EncodeLists and DecodeLists apply.
func swapLists(v int64) int64 {
	if v >= -MaxLists && v <= -lowLists-1 {
		return int64(uint64(1) << uint(-v-1))
	}
	if u := uint64(v); u >= 1<<lowLists && u&(u-1) == 0 {
		return -int64(bits.TrailingZeros64(u)) - 1
	}
	return v
}

// lowLists is how many lists (0..6) have their plain mask as their code.
const lowLists = 7

// listsSwapSQL is the CASE expression of swapLists over the SQL expression
// "%[1]s", generated once: a power of two's logarithm is one arm per list.
var listsSwapSQL = func() string {
	var arms strings.Builder
	for i := lowLists; i < MaxLists; i++ {
		fmt.Fprintf(&arms, " WHEN %d THEN %d", int64(uint64(1)<<i), -int64(i)-1)
	}
	return fmt.Sprintf("(CASE WHEN (%%[1]s) BETWEEN %d AND %d THEN 1 << (-1 - (%%[1]s))"+
		" WHEN (%%[1]s) >= %d AND ((%%[1]s) & ((%%[1]s) - 1)) = 0 OR (%%[1]s) = %d THEN CASE (%%[1]s)%s ELSE (%%[1]s) END"+
		" ELSE (%%[1]s) END)", -MaxLists, -lowLists-1, 1<<lowLists, int64(math.MinInt64), arms.String())
}()

// EncodeListsSQL is EncodeLists as a plain SQLite expression over expr (a
// column, a parameter or any integer expression), e.g. for an UPDATE that
// stores a mask computed in SQL.
func EncodeListsSQL(expr string) string { return fmt.Sprintf(listsSwapSQL, expr) }

// DecodeListsSQL is DecodeLists as a plain SQLite expression over expr,
// e.g. DecodeListsSQL("lists") & 256 != 0 tests a row's membership of
// list 8.
func DecodeListsSQL(expr string) string { return fmt.Sprintf(listsSwapSQL, expr) }

// InListSQL is the SQL condition that the lists value col (encoded) holds a
// list of the plain mask expression mask (a parameter such as "?1", in
// practice the mask of one list).
func InListSQL(col, mask string) string {
	return fmt.Sprintf("(%s & %s) != 0", DecodeListsSQL(col), mask)
}

// ListsCoding is how the rule rows of a file hold their lists.
type ListsCoding uint8

const (
	// NoLists: the rule tables have no lists column; every row is in
	// `default`.
	NoLists ListsCoding = iota
	// PlainLists: the column holds plain masks (version 3, or a file
	// without sqlitefilter_meta).
	PlainLists
	// CodedLists: the column holds EncodeLists values (ListCodesVersion).
	CodedLists
)

// ListsCodingOf reads how the rule rows of db hold their lists.
func ListsCodingOf(db *sql.DB) (ListsCoding, error) {
	has, err := HasListsColumn(db)
	if err != nil || !has {
		return NoLists, err
	}
	coded, err := recordedCodes(db)
	if err != nil || !coded {
		return PlainLists, err
	}
	return CodedLists, nil
}

// As is the SQL expression, over the lists column col of a row held in
// coding c, of the row's lists held in coding want (PlainLists: the mask;
// CodedLists: the code). Without the column (NoLists) a row is in
// `default`, whose mask and code are 1.
func (c ListsCoding) As(col string, want ListsCoding) string {
	switch {
	case c == NoLists:
		return "1"
	case c == want:
		return col
	default: // PlainLists to CodedLists or back: the code is its own inverse
		return EncodeListsSQL(col)
	}
}
