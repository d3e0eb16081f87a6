package schema_test

import (
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// listCodeCases are the masks whose code TestListCodes checks: every one
// list, the masks the codes of high lists displace, and a few others.
func listCodeCases() []uint64 {
	var masks []uint64
	for i := range schema.MaxLists {
		masks = append(masks, uint64(1)<<i)
	}
	for v := int64(-schema.MaxLists); v <= -8; v++ {
		masks = append(masks, uint64(v))
	}
	masks = append(masks, 0, 1, math.MaxUint64, 3, 1|1<<40, 1<<7|1<<8, 1<<63|1, 127, 128+1,
		uint64(math.MaxInt64), uint64(1)<<63|1, uint64(1)<<63|1<<62)
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		masks = append(masks, r.Uint64())
		masks = append(masks, r.Uint64()&r.Uint64()&r.Uint64()) // fewer bits
	}
	return masks
}

// wantCode is the code of mask as the schema defines it.
func wantCode(mask uint64) int64 {
	v := int64(mask)
	for i := 7; i < schema.MaxLists; i++ {
		if mask == uint64(1)<<i {
			return -int64(i) - 1
		}
		if v == -int64(i)-1 {
			return int64(uint64(1) << i)
		}
	}
	return v
}

// TestListCodes: Go and SQL agree on the code of every mask and on the mask
// of every code, decoding inverts encoding, and a row in one list costs one
// byte whatever the list.
func TestListCodes(t *testing.T) {
	db, err := sql.Open("sqlite3", schema.DSN(filepath.Join(t.TempDir(), "codes.db"), "mode=rwc"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	encode, err := db.Prepare("SELECT " + schema.EncodeListsSQL("?1"))
	if err != nil {
		t.Fatal(err)
	}
	decode, err := db.Prepare("SELECT " + schema.DecodeListsSQL("?1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range listCodeCases() {
		code := schema.EncodeLists(m)
		if want := wantCode(m); code != want {
			t.Errorf("EncodeLists(%#x) = %d, want %d", m, code, want)
		}
		if got := schema.DecodeLists(code); got != m {
			t.Errorf("DecodeLists(EncodeLists(%#x)) = %#x", m, got)
		}
		var sqlCode, sqlMask int64
		if err := encode.QueryRow(int64(m)).Scan(&sqlCode); err != nil || sqlCode != code {
			t.Errorf("SQL encode of %#x = %d, %v; want %d", m, sqlCode, err, code)
		}
		if err := decode.QueryRow(code).Scan(&sqlMask); err != nil || uint64(sqlMask) != m {
			t.Errorf("SQL decode of %d = %#x, %v; want %#x", code, uint64(sqlMask), err, m)
		}
		// As a code: its mask, in Go and in SQL.
		asCode := int64(m)
		if err := decode.QueryRow(asCode).Scan(&sqlMask); err != nil || uint64(sqlMask) != schema.DecodeLists(asCode) {
			t.Errorf("SQL decode of %d = %#x, %v; Go says %#x", asCode, uint64(sqlMask), err, schema.DecodeLists(asCode))
		}
		if m != 0 && m&(m-1) == 0 && (code < -128 || code > 127) {
			t.Errorf("the one list %#x has code %d, more than one byte", m, code)
		}
	}
}

// TestInListSQL: the membership condition over a code holds for exactly the
// lists of its mask.
func TestInListSQL(t *testing.T) {
	db, err := sql.Open("sqlite3", schema.DSN(filepath.Join(t.TempDir(), "codes.db"), "mode=rwc"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	in, err := db.Prepare("SELECT " + schema.InListSQL("?1", "?2"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []uint64{1, 1 << 7, 1 << 40, 1 << 63, 1 | 1<<40, uint64(math.MaxUint64 - 7), 1<<7 | 1<<63} {
		for i := range schema.MaxLists {
			var got bool
			if err := in.QueryRow(schema.EncodeLists(m), int64(uint64(1)<<i)).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if want := m&(uint64(1)<<i) != 0; got != want {
				t.Errorf("mask %#x, list %d: InListSQL = %v, want %v", m, i, got, want)
			}
		}
	}
}

// v3Masks are memberships a version 3 file holds as plain masks.
var v3Masks = map[string]uint64{
	"seven.example":     1 << 7,
	"forty.example":     1 << 40,
	"last.example":      1 << 63,
	"odd.example":       uint64(math.MaxUint64 - 8), // -9: displaced by list 8's code
	"default.example":   1,
	"two.example":       1 | 1<<40,
	"two-high.example":  1<<40 | 1<<63,
	"six.example":       1 << 6,
	"low-and-7.example": 1<<3 | 1<<7,
}

// planV3 writes v3Masks as block_wildcard rows of a version 3 file of
// layout l, and returns it.
func planV3(t *testing.T, l schema.Layout) string {
	t.Helper()
	path := testkit.NewDB(t, l, "wal")
	var stmts []string
	for name, m := range v3Masks {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO block_wildcard (Domain) VALUES ('%s')", name))
		if l == schema.Normalized {
			stmts = append(stmts, fmt.Sprintf("UPDATE records SET lists = %d WHERE domain_id = (SELECT domain_id FROM domains WHERE domain = '%s')", int64(m), name))
		} else {
			stmts = append(stmts, fmt.Sprintf("UPDATE block_wildcard SET lists = %d WHERE Domain = '%s'", int64(m), name))
		}
	}
	return testkit.WithPlainLists(t, path, stmts...)
}

// storedLists reads the lists column of every block_wildcard row.
func storedLists(t *testing.T, path string, l schema.Layout) map[string]int64 {
	t.Helper()
	q := "SELECT Domain, lists FROM block_wildcard"
	if l == schema.Normalized {
		q = "SELECT d.domain, r.lists FROM records r JOIN domains d USING (domain_id) WHERE r.record_type = 'block_wildcard'"
	}
	db := testkit.OpenRO(t, path)
	defer db.Close()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkCoded fails unless every row of v3Masks is stored as its code and
// the file records ListCodesVersion.
func checkCoded(t *testing.T, path string, l schema.Layout) {
	t.Helper()
	got := storedLists(t, path, l)
	for name, m := range v3Masks {
		if v, ok := got[name]; !ok || schema.DecodeLists(v) != m || v != schema.EncodeLists(m) {
			t.Errorf("%s: stored %d (%v), which decodes to %#x; want the code %d of %#x", name, v, ok, schema.DecodeLists(v), schema.EncodeLists(m), m)
		}
	}
	db := testkit.OpenRO(t, path)
	defer db.Close()
	if c, err := schema.ListsCodingOf(db); err != nil || c != schema.CodedLists {
		t.Errorf("ListsCodingOf = %v, %v; want CodedLists", c, err)
	}
	if v, err := schema.SchemaVersion(db); err != nil || v != schema.ListCodesVersion {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, schema.ListCodesVersion)
	}
}

// Upgrade (and UpgradeListCodes, which the admin command runs before it
// writes) turns a version 3 file's masks into codes that decode to the same
// memberships, once.
func TestUpgradeEncodesVersion3Masks(t *testing.T) {
	upgrades := map[string]func(*sql.DB) (bool, error){"Upgrade": schema.Upgrade, "UpgradeListCodes": schema.UpgradeListCodes}
	for _, l := range layouts {
		for name, upgrade := range upgrades {
			t.Run(l.String()+"/"+name, func(t *testing.T) {
				path := planV3(t, l)
				db := testkit.OpenRW(t, path)
				if c, err := schema.ListsCodingOf(db); err != nil || c != schema.PlainLists {
					t.Fatalf("ListsCodingOf the version 3 file = %v, %v; want PlainLists", c, err)
				}
				for i := range 2 {
					changed, err := upgrade(db)
					if err != nil || changed != (i == 0) {
						t.Fatalf("%s #%d = %v, %v", name, i+1, changed, err)
					}
				}
				db.Close()
				checkCoded(t, path, l)
			})
		}
	}
}

// A file without the lists column is no business of UpgradeListCodes.
func TestUpgradeListCodesLeavesAFileWithoutLists(t *testing.T) {
	path := legacyDB(t, schema.PerType)
	db := testkit.OpenRW(t, path)
	defer db.Close()
	if changed, err := schema.UpgradeListCodes(db); err != nil || changed {
		t.Fatalf("UpgradeListCodes = %v, %v; want nothing to do", changed, err)
	}
	if v, err := schema.SchemaVersion(db); err != nil || v != schema.CreateVersion {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, schema.CreateVersion)
	}
}

// A hand-made file (no sqlitefilter_meta) given lists records the version
// its codes need.
func TestUpgradeRecordsCodesInAHandMadeFile(t *testing.T) {
	db, err := sql.Open("sqlite3", schema.DSN(filepath.Join(t.TempDir(), "hand.db"), "mode=rwc"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE block_exact (Domain TEXT PRIMARY KEY); INSERT INTO block_exact VALUES ('x.example')"); err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Upgrade(db); err != nil {
		t.Fatal(err)
	}
	if c, err := schema.ListsCodingOf(db); err != nil || c != schema.CodedLists {
		t.Errorf("ListsCodingOf = %v, %v; want CodedLists", c, err)
	}
}

// Migrating or splitting a version 3 file writes codes, at version 4, with
// the same memberships (Verify compares masks).
func TestMigrateAndSplitOfVersion3FileWriteCodes(t *testing.T) {
	for _, from := range layouts {
		t.Run(from.String(), func(t *testing.T) {
			src := planV3(t, from)
			to := schema.Normalized
			if from == schema.Normalized {
				to = schema.PerType
			}
			dst := filepath.Join(t.TempDir(), "dst.db")
			if err := schema.Migrate(src, dst, to, false); err != nil {
				t.Fatal(err)
			}
			checkCoded(t, dst, to)
			if err := schema.Verify(src, dst); err != nil {
				t.Errorf("Verify(version 3, its migration) = %v", err)
			}
			back := filepath.Join(t.TempDir(), "back.db")
			if err := schema.Migrate(dst, back, from, false); err != nil {
				t.Fatal(err)
			}
			checkCoded(t, back, from)
			if from != schema.PerType {
				return
			}
			dsts := shardPaths(t.TempDir(), 3)
			if err := schema.Split(src, dsts); err != nil {
				t.Fatal(err)
			}
			for name, m := range v3Masks {
				got := storedLists(t, dsts[schema.ShardOf(name, len(dsts))], schema.PerType)
				if v, ok := got[name]; !ok || v != schema.EncodeLists(m) {
					t.Errorf("%s in its shard: %d (%v), want the code %d of %#x", name, v, ok, schema.EncodeLists(m), m)
				}
			}
			for _, d := range dsts {
				db := testkit.OpenRO(t, d)
				if c, err := schema.ListsCodingOf(db); err != nil || c != schema.CodedLists {
					t.Errorf("%s: ListsCodingOf = %v, %v; want CodedLists", d, c, err)
				}
				db.Close()
			}
		})
	}
}
