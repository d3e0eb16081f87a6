package policy_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/rules"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// mapSource is a Source over rows in memory, for testing Decide without
// SQLite.
type mapSource struct {
	keys    map[schema.Table]map[string]bool
	aliases map[string]string
	regex   *rules.RegexSet
	probes  int
}

func newMapSource(rows []testkit.Row) *mapSource {
	s := &mapSource{keys: map[schema.Table]map[string]bool{}, aliases: map[string]string{}}
	b := rules.NewRegexSetBuilder()
	for _, r := range rows {
		switch r.Table {
		case schema.Alias:
			s.aliases[r.Key] = r.Target
		case schema.BlockRegex:
			b.Add(r.Key)
		default:
			if s.keys[r.Table] == nil {
				s.keys[r.Table] = map[string]bool{}
			}
			s.keys[r.Table][r.Key] = true
		}
	}
	s.regex = b.Build()
	return s
}

func (s *mapSource) Has(t schema.Table, key string) (bool, error) {
	s.probes++
	return s.keys[t][key], nil
}

func (s *mapSource) AliasTarget(name string) (string, bool, error) {
	t, ok := s.aliases[name]
	return t, ok, nil
}

func (s *mapSource) MatchRegex(name string) (string, bool) { return s.regex.Match(name) }

func TestDecideNamesTheRule(t *testing.T) {
	type (
		Rule    = policy.Rule
		Hop     = policy.Hop
		Verdict = policy.Verdict
		Skipped = policy.Skipped
	)
	al := func(src, name string) Hop { return Hop{Rule{schema.Alias, src}, name} }
	tests := []struct {
		name string
		rows []testkit.Row
		want Verdict
	}{
		{"ads.example.com", nil, Verdict{}},
		{"ads.example.com", testkit.Rows(testkit.BlockExact("ads.example.com"), testkit.BlockRegex(`^ads\.`)),
			Verdict{Action: policy.ActionBlock, Rule: Rule{schema.BlockExact, "ads.example.com"}}},
		{"ads.example.com", testkit.BlockRegex(`^ads\.`),
			Verdict{Action: policy.ActionBlock, Rule: Rule{schema.BlockRegex, `^ads\.`}}},
		{"a.b.example.com", testkit.BlockWildcard("example.com", "b.example.com"),
			Verdict{Action: policy.ActionBlock, Rule: Rule{schema.BlockWildcard, "b.example.com"}}},
		{"ads.example.com", testkit.Rows(testkit.Allow("example.com"), testkit.BlockExact("ads.example.com")),
			Verdict{Action: policy.ActionAllow, Rule: Rule{schema.Allow, "example.com"}}},
		{"www.evil.com", testkit.DNSBlock("evil.com"),
			Verdict{Action: policy.ActionBlockUpstream, Rule: Rule{schema.DNSBlock, "evil.com"}}},
		{"www.intel.com", testkit.Alias("intel.com", "keweon.center"),
			Verdict{Action: policy.ActionAlias, Rule: Rule{schema.Alias, "intel.com"}, Target: "www.keweon.center",
				Aliases: []Hop{al("intel.com", "www.keweon.center")}}},
		{"www.intel.com", testkit.Rows(testkit.Alias("intel.com", "keweon.center"), testkit.BlockRegex(`keweon`)),
			Verdict{Action: policy.ActionBlock, Rule: Rule{schema.BlockRegex, "keweon"}, Target: "www.keweon.center",
				Aliases: []Hop{al("intel.com", "www.keweon.center")}}},
		{"www.intel.com", testkit.Rows(testkit.Alias("intel.com", "keweon.center"), testkit.Allow("keweon.center")),
			Verdict{Action: policy.ActionAlias, Rule: Rule{schema.Alias, "intel.com"}, Target: "www.keweon.center",
				Aliases: []Hop{al("intel.com", "www.keweon.center")}}},
		{"a.test", testkit.Rows(testkit.Alias("a.test", "b.test"), testkit.Alias("b.test", "a.test")),
			Verdict{Action: policy.ActionAliasFail, Rule: Rule{schema.Alias, "b.test"}, Target: "a.test",
				Aliases: []Hop{al("a.test", "b.test")}}},
		{"intel.com", testkit.Rows(testkit.Alias("intel.com", "-bad target-")),
			Verdict{Skipped: []Skipped{{Rule{schema.Alias, "intel.com"}, policy.ReasonBadTarget, "-bad target-"}}}},
		{strings.Repeat("a.", 70) + "intel.com", testkit.Alias("intel.com", strings.Repeat("b", 63)+"."+strings.Repeat("c", 63)),
			Verdict{Action: policy.ActionAliasFail, Rule: Rule{schema.Alias, "intel.com"}}},
	}
	for _, tc := range tests {
		got, err := policy.Decide(newMapSource(tc.rows), tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Decide(%s) with %v\n got %+v\nwant %+v", tc.name, tc.rows, got, tc.want)
		}
	}
}

// TestDecideChecksEverySuffix: a name of 100 labels is probed at every
// level, with no depth cap.
func TestDecideChecksEverySuffix(t *testing.T) {
	name := strings.Repeat("x.", 99) + "deep"
	src := newMapSource(testkit.BlockWildcard("deep"))
	v, err := policy.Decide(src, name)
	if err != nil || v.Action != policy.ActionBlock || v.Rule.Key != "deep" {
		t.Fatalf("Decide = %+v, %v", v, err)
	}
}
