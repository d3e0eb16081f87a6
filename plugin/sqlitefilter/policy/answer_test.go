package policy_test

import (
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

func TestCheckChainBlocksByTheFirstBlockedNameOfTheAnswer(t *testing.T) {
	rows := testkit.Rows(
		testkit.BlockWildcard("tracker-cdn.example"),
		testkit.BlockRegex(`^pixel\.`),
		testkit.DNSBlock("evil.example"),
		testkit.Allow("ok.tracker-cdn.example", "allowed.example"),
		testkit.BlockExact("allowed.example"),
		testkit.Alias("short.example", "long.example"),
	)
	tests := []struct {
		name   string
		qname  string
		names  []string
		action policy.Action
		rule   policy.Rule
		answer string
	}{
		{"no blocked name", "metrics.shop.example", []string{"cdn.example", "edge.cdn.example"}, policy.ActionPass, policy.Rule{}, ""},
		{"a wildcard-blocked target", "metrics.shop.example", []string{"cdn.example", "shop.tracker-cdn.example"},
			policy.ActionBlockCNAME, policy.Rule{Table: schema.BlockWildcard, Key: "tracker-cdn.example"}, "shop.tracker-cdn.example"},
		{"a regex-blocked target", "metrics.shop.example", []string{"pixel.cdn.example"},
			policy.ActionBlockCNAME, policy.Rule{Table: schema.BlockRegex, Key: `^pixel\.`}, "pixel.cdn.example"},
		{"a block-upstream target", "metrics.shop.example", []string{"a.evil.example"},
			policy.ActionBlockCNAME, policy.Rule{Table: schema.DNSBlock, Key: "evil.example"}, "a.evil.example"},
		{"an allowed target is not blocked", "metrics.shop.example", []string{"ok.tracker-cdn.example"}, policy.ActionPass, policy.Rule{}, ""},
		{"allow beats block on a target", "metrics.shop.example", []string{"allowed.example"}, policy.ActionPass, policy.Rule{}, ""},
		{"an aliased target is decided by steps 1-3 only", "metrics.shop.example", []string{"short.example"}, policy.ActionPass, policy.Rule{}, ""},
		{"an allowed query name checks nothing", "allowed.example", []string{"shop.tracker-cdn.example"}, policy.ActionAllow,
			policy.Rule{Table: schema.Allow, Key: "allowed.example"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := newMapSource(rows)
			decide := func(n string) (policy.Verdict, error) { return policy.Decide(src, n) }
			v, err := policy.Decide(src, tc.qname)
			if err != nil {
				t.Fatal(err)
			}
			got, err := policy.CheckChain(decide, v, tc.qname, tc.names)
			if err != nil {
				t.Fatal(err)
			}
			if got.Action != tc.action || got.Rule != tc.rule || got.Answer != tc.answer {
				t.Errorf("CheckChain = %s %v %q, want %s %v %q", got.Action, got.Rule, got.Answer, tc.action, tc.rule, tc.answer)
			}
		})
	}
}

func TestCheckChainDoesNotDecideTheQueryOrItsAliasesAgain(t *testing.T) {
	src := newMapSource(testkit.Alias("a.example", "b.example"))
	v, err := policy.Decide(src, "a.example")
	if err != nil || v.Action != policy.ActionAlias {
		t.Fatalf("Decide = %+v, %v", v, err)
	}
	var asked []string
	decide := func(n string) (policy.Verdict, error) { asked = append(asked, n); return policy.Decide(src, n) }
	if _, err := policy.CheckChain(decide, v, "a.example", []string{"a.example", "b.example", "c.example"}); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 || asked[0] != "c.example" {
		t.Errorf("decided %q, want only c.example", asked)
	}
}

// The verdict of a blocked answer names the lists of the row that blocked
// it, as the decide function (DecideFor in the client's scope) returned them.
func TestCheckChainAndBlockIPCarryTheListsOfTheirRow(t *testing.T) {
	decide := func(n string) (policy.Verdict, error) {
		if n == "shop.tracker-cdn.example" {
			return policy.Verdict{Action: policy.ActionBlock, Rule: policy.Rule{Table: schema.BlockWildcard, Key: "tracker-cdn.example"}, Lists: 4}, nil
		}
		return policy.Verdict{}, nil
	}
	v, err := policy.CheckChain(decide, policy.Verdict{}, "metrics.shop.example", []string{"cdn.example", "shop.tracker-cdn.example"})
	if err != nil || v.Action != policy.ActionBlockCNAME || v.Lists != 4 {
		t.Errorf("CheckChain = %+v, %v; want block_cname in lists 4", v, err)
	}
	if v := policy.BlockIP(policy.Verdict{}, schema.BlockIPv4, "198.18.0.0/15", "198.18.0.1", 2); v.Action != policy.ActionBlockIP || v.Lists != 2 {
		t.Errorf("BlockIP = %+v; want block_ip in lists 2", v)
	}
}
