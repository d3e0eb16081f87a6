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
	// lists are the rows' lists where not `default`.
	lists map[schema.Table]map[string]policy.Lists
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

func (s *mapSource) Lists(t schema.Table, key string) (policy.Lists, error) {
	s.probes++
	if m, ok := s.lists[t][key]; ok {
		return m, nil
	}
	if s.keys[t][key] {
		return policy.DefaultLists, nil
	}
	return 0, nil
}

func (s *mapSource) AliasTarget(name string) (string, policy.Lists, error) {
	t, ok := s.aliases[name]
	if !ok {
		return "", 0, nil
	}
	if m, ok := s.lists[schema.Alias][name]; ok {
		return t, m, nil
	}
	return t, policy.DefaultLists, nil
}

func (s *mapSource) MatchRegex(name string, in policy.Lists) (string, policy.Lists, bool) {
	if in&policy.DefaultLists == 0 {
		return "", 0, false
	}
	p, ok := s.regex.Match(name)
	return p, policy.DefaultLists, ok
}

func TestDecideNamesTheRule(t *testing.T) {
	type (
		Rule    = policy.Rule
		Hop     = policy.Hop
		Verdict = policy.Verdict
		Skipped = policy.Skipped
	)
	al := func(src, name string) Hop { return Hop{Rule{schema.Alias, src}, name, policy.DefaultLists} }
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
		if tc.want.Action != policy.ActionPass {
			tc.want.Lists = policy.DefaultLists // every row of these is in `default`
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

// TestDecideForAppliesOnlyTheClientsLists: a row applies only when it is in
// a list of the client's scope; one that does not is as if absent, so a
// shorter suffix in another list may decide; a paused scope keeps allows
// and aliases and drops every block.
func TestDecideForAppliesOnlyTheClientsLists(t *testing.T) {
	const ads, kids = policy.Lists(1 << 1), policy.Lists(1 << 2)
	rows := testkit.Rows(
		testkit.BlockWildcard("tracker.example", "example"),
		testkit.BlockExact("games.example"),
		testkit.Allow("ok.tracker.example"),
		testkit.Alias("intel.com", "keweon.center"),
		testkit.DNSBlock("upstream.example"),
	)
	src := newMapSource(rows)
	src.lists = map[schema.Table]map[string]policy.Lists{
		schema.BlockWildcard: {"tracker.example": ads | kids, "example": kids},
		schema.BlockExact:    {"games.example": kids},
		schema.Allow:         {"ok.tracker.example": ads},
		schema.Alias:         {"intel.com": kids},
		schema.DNSBlock:      {"upstream.example": ads},
	}
	type want struct {
		action policy.Action
		key    string
		lists  policy.Lists
	}
	tests := []struct {
		name  string
		scope policy.Scope
		want  want
	}{
		{"a.tracker.example", policy.Scope{Lists: ads, Blocks: ads}, want{policy.ActionBlock, "tracker.example", ads}},
		{"a.tracker.example", policy.Scope{Lists: kids, Blocks: kids}, want{policy.ActionBlock, "tracker.example", kids}},
		{"a.tracker.example", policy.Scope{Lists: policy.DefaultLists, Blocks: policy.DefaultLists}, want{}},
		{"games.example", policy.Scope{Lists: ads, Blocks: ads}, want{}},
		{"games.example", policy.Scope{Lists: kids, Blocks: kids}, want{policy.ActionBlock, "games.example", kids}},
		// The allow of ads does not apply to kids: the wildcard blocks.
		{"ok.tracker.example", policy.Scope{Lists: kids, Blocks: kids}, want{policy.ActionBlock, "tracker.example", kids}},
		{"ok.tracker.example", policy.Scope{Lists: ads | kids, Blocks: ads | kids}, want{policy.ActionAllow, "ok.tracker.example", ads}},
		{"www.intel.com", policy.Scope{Lists: ads, Blocks: ads}, want{}},
		// Paused: blocks off, the alias still applies.
		{"www.intel.com", policy.Scope{Lists: kids, Blocks: 0}, want{policy.ActionAlias, "intel.com", kids}},
		{"a.tracker.example", policy.Scope{Lists: kids, Blocks: 0}, want{}},
		{"www.upstream.example", policy.Scope{Lists: ads, Blocks: ads}, want{policy.ActionBlockUpstream, "upstream.example", ads}},
		{"www.upstream.example", policy.Scope{Lists: ads, Blocks: 0}, want{}},
	}
	for _, tc := range tests {
		v, err := policy.DecideFor(src, tc.name, tc.scope)
		if err != nil {
			t.Fatal(err)
		}
		if got := (want{v.Action, v.Rule.Key, v.Lists}); got != tc.want {
			t.Errorf("DecideFor(%s, %+v) = %+v, want %+v", tc.name, tc.scope, got, tc.want)
		}
	}
}
