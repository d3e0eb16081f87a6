package rules

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// memScanner is a Scanner over rows in memory, in table order, as a Store
// scans them.
type memScanner struct {
	rows map[schema.Table][]row
	err  error // returned by every Scan when set
}

func (m memScanner) Scan(t schema.Table, limit int, fn func(key, target string, lists policy.Lists)) (bool, error) {
	if m.err != nil {
		return false, m.err
	}
	for i, r := range m.rows[t] {
		if i == limit {
			return true, nil
		}
		fn(r.key, r.target, policy.DefaultLists)
	}
	return false, nil
}

func (memScanner) ListTables() bool                                   { return false }
func (memScanner) ScanListTable(string, string, func([]string)) error { return nil }

// skip is one report of Load, without its detail.
type skip = policy.Skipped

// load runs Load and returns what it reported.
func load(t *testing.T, src Scanner, lim Limits, prev *Set) (*Set, []skip) {
	t.Helper()
	var got []skip
	s, err := Load(src, lim, prev, func(s policy.Skipped, detail string) {
		if s.Reason == policy.ReasonBadPattern && detail == "" {
			t.Errorf("%v: a bad pattern is reported without the compiler's error", s.Rule)
		}
		got = append(got, s)
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, got
}

func TestLoadCapsEachTable(t *testing.T) {
	src := memScanner{rows: map[schema.Table][]row{
		schema.BlockRegex: {{`^a\.`, ""}, {`^b\.`, ""}, {`^c\.`, ""}},
		schema.RewriteV4:  {{"192.0.2.1", "198.51.100.1"}, {"192.0.2.2", "198.51.100.2"}, {"192.0.2.3", "198.51.100.3"}},
		schema.RewriteV6:  {{"2001:db8::1", "2001:db8::99"}},
	}}
	var details []string
	s, err := Load(src, Limits{RegexMax: 2, RewriteMax: 2}, nil, func(s policy.Skipped, detail string) {
		if s.Reason != policy.ReasonOverCap {
			t.Errorf("unexpected report %+v", s)
		}
		details = append(details, s.Rule.Table.Name()+": "+detail)
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Regex.Len() != 2 || s.Rewrite.Len() != 3 {
		t.Fatalf("loaded %d patterns and %d rewrites, want the first 2 patterns and 2+1 rewrites", s.Regex.Len(), s.Rewrite.Len())
	}
	if _, ok := s.Regex.Match("c.test"); ok {
		t.Error("a pattern past regex_max is used")
	}
	if len(details) != 2 || !strings.Contains(details[0], "block_regex") || !strings.Contains(details[0], "regex_max") ||
		!strings.Contains(details[1], "ip_rewrite_v4") || !strings.Contains(details[1], "rewrite_max") {
		t.Fatalf("reports %q, want one over_cap for block_regex (regex_max) and one for ip_rewrite_v4 (rewrite_max)", details)
	}
}

func TestLoadReportsSkippedRows(t *testing.T) {
	src := memScanner{rows: map[schema.Table][]row{
		schema.BlockRegex: {{`(unclosed`, ""}, {`^ads\.`, ""}},
		schema.RewriteV4:  {{"192.0.2.1", "not an address"}, {"192.0.2.2", "198.51.100.2"}},
		schema.RewriteV6:  {{"2001:db8::1", "198.51.100.1"}},
	}}
	s, got := load(t, src, DefaultLimits, nil)
	want := []skip{
		{Rule: policy.Rule{Table: schema.BlockRegex, Key: `(unclosed`}, Reason: policy.ReasonBadPattern},
		{Rule: policy.Rule{Table: schema.RewriteV4, Key: "192.0.2.1"}, Reason: policy.ReasonBadAddress, Value: "not an address"},
		{Rule: policy.Rule{Table: schema.RewriteV6, Key: "2001:db8::1"}, Reason: policy.ReasonWrongFamily, Value: "198.51.100.1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reported\n %+v\nwant\n %+v", got, want)
	}
	if s.Regex.Len() != 1 || s.Rewrite.Len() != 1 {
		t.Fatalf("loaded %d patterns and %d rewrites, want the 1 usable of each", s.Regex.Len(), s.Rewrite.Len())
	}
}

func TestLoadReusesWhatDidNotChange(t *testing.T) {
	rows := map[schema.Table][]row{
		schema.BlockRegex: {{`(unclosed`, ""}, {`^ads\.`, ""}},
		schema.RewriteV4:  {{"192.0.2.1", "198.51.100.1"}},
	}
	first, _ := load(t, memScanner{rows: rows}, DefaultLimits, nil)

	again, _ := load(t, memScanner{rows: rows}, DefaultLimits, first)
	if again.Regex != first.Regex || again.Rewrite != first.Rewrite {
		t.Fatal("unchanged tables were built again")
	}

	rows[schema.RewriteV4] = []row{{"192.0.2.1", "198.51.100.2"}}
	rw, _ := load(t, memScanner{rows: rows}, DefaultLimits, again)
	if rw.Regex != first.Regex {
		t.Error("a change of ip_rewrite_v4 rebuilt the regex set")
	}
	if rw.Rewrite == first.Rewrite {
		t.Error("a change of ip_rewrite_v4 kept the old rewrites")
	}

	rows[schema.BlockRegex] = []row{{`^ads\.`, ""}}
	re, _ := load(t, memScanner{rows: rows}, DefaultLimits, rw)
	if re.Regex == rw.Regex || re.Regex.Len() != 1 {
		t.Errorf("a change of block_regex kept the old set (%d patterns)", re.Regex.Len())
	}
	if re.Rewrite != rw.Rewrite {
		t.Error("a change of block_regex rebuilt the rewrites")
	}
}

func TestLoadKnowsWhetherThereAreAliases(t *testing.T) {
	s, _ := load(t, memScanner{}, DefaultLimits, nil)
	if !s.NoAliases {
		t.Error("an empty domain_alias is not known empty")
	}
	s, _ = load(t, memScanner{rows: map[schema.Table][]row{schema.Alias: {{"intel.com", "keweon.center"}}}}, DefaultLimits, nil)
	if s.NoAliases {
		t.Error("a domain_alias row was missed")
	}
}

func TestLoadFailsWhenATableCannotBeRead(t *testing.T) {
	boom := errors.New("disk I/O error")
	_, err := Load(memScanner{err: boom}, DefaultLimits, nil, func(policy.Skipped, string) {})
	if !errors.Is(err, boom) {
		t.Fatalf("Load = %v, want the scan's error", err)
	}
}

// TestLoadAppliesAFewChangesWithoutRebuilding: a few changed block_regex
// rows give a set that shares the previous one's automaton, with the same
// matches a full build gives, the least matching pattern named; many changes
// build the set anew.
func TestLoadAppliesAFewChangesWithoutRebuilding(t *testing.T) {
	base := []row{{`^ads[0-9]*\.`, ""}, {`\.tracker\.net$`, ""}, {`^old\.`, ""}, {`^zz`, ""}}
	prev, _ := load(t, memScanner{rows: map[schema.Table][]row{schema.BlockRegex: base}}, DefaultLimits, nil)
	changed := []row{{`^ads[0-9]*\.`, ""}, {`\.tracker\.net$`, ""}, {`^zz`, ""}, {`^new\.`, ""}, {`^a`, ""}, {`(`, ""}}
	next, skips := load(t, memScanner{rows: map[schema.Table][]row{schema.BlockRegex: changed}}, DefaultLimits, prev)
	if next.Regex.ac != prev.Regex.ac {
		t.Error("a few changes rebuilt the automaton")
	}
	if len(skips) != 1 || skips[0].Rule.Key != "(" || skips[0].Reason != policy.ReasonBadPattern {
		t.Errorf("skipped %v, want the pattern that does not compile", skips)
	}
	full, _ := load(t, memScanner{rows: map[schema.Table][]row{schema.BlockRegex: changed}}, DefaultLimits, nil)
	for _, name := range []string{"old.example", "new.example", "ads1.example", "x.tracker.net", "zz.example", "a.example", "clean.example"} {
		got, gotOK := next.Regex.Match(name)
		want, wantOK := full.Regex.Match(name)
		if got != want || gotOK != wantOK {
			t.Errorf("%s: matched %q %t after the changes, %q %t by a full build", name, got, gotOK, want, wantOK)
		}
	}
	if p, _ := next.Regex.Match("ads1.example"); p != `^a` {
		t.Errorf("ads1.example: %q named, want the least matching pattern ^a", p)
	}
	if next.Regex.Len() != full.Regex.Len() {
		t.Errorf("Len %d, want %d", next.Regex.Len(), full.Regex.Len())
	}
	var many []row
	for i := range maxExtra + 1 {
		many = append(many, row{fmt.Sprintf(`^many%d\.`, i), ""})
	}
	rebuilt, _ := load(t, memScanner{rows: map[schema.Table][]row{schema.BlockRegex: append(base, many...)}}, DefaultLimits, prev)
	if rebuilt.Regex.ac == prev.Regex.ac {
		t.Error("many changes did not build the set anew")
	}
	if _, ok := rebuilt.Regex.Match("many3.example"); !ok {
		t.Error("the rebuilt set misses an added pattern")
	}
}

func TestLoadReadsTheBlockedAddressesCappedAndSkippingBadRows(t *testing.T) {
	rows := map[schema.Table][]row{
		schema.BlockIPv4: {{"192.0.2.66", ""}, {"198.51.100.0/24", ""}, {"2001:db8::1", ""}, {"192.0.2.99", ""}},
		schema.BlockIPv6: {{"2001:db8::66", ""}},
	}
	var got []skip
	s, err := Load(memScanner{rows: rows}, Limits{BlockIPMax: 3}, nil, func(s policy.Skipped, _ string) { got = append(got, s) })
	if err != nil {
		t.Fatal(err)
	}
	want := []skip{
		{Rule: policy.Rule{Table: schema.BlockIPv4}, Reason: policy.ReasonOverCap},
		{Rule: policy.Rule{Table: schema.BlockIPv4, Key: "2001:db8::1"}, Reason: policy.ReasonWrongFamily},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reported\n %+v\nwant\n %+v", got, want)
	}
	if s.BlockIP.Len() != 3 {
		t.Fatalf("loaded %d blocked addresses, want 3 (2 of the first 3 block_ip_v4 rows, 1 of block_ip_v6)", s.BlockIP.Len())
	}
	again, _ := load(t, memScanner{rows: rows}, Limits{BlockIPMax: 3}, s)
	if again.BlockIP != s.BlockIP {
		t.Error("unchanged block_ip tables were built again")
	}
	rows[schema.BlockIPv6] = nil
	changed, _ := load(t, memScanner{rows: rows}, Limits{BlockIPMax: 3}, again)
	if changed.BlockIP == again.BlockIP || changed.BlockIP.Len() != 2 {
		t.Errorf("a change of block_ip_v6 kept the old set (%d rows)", changed.BlockIP.Len())
	}
}
