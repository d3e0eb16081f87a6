package policy

import (
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// Lookup answers the questions the decision asks of the rows stored in the
// database, one key at a time. A Lookup is used by one goroutine at a time.
type Lookup interface {
	// Has reports whether table t holds a row whose key is key.
	Has(t schema.Table, key string) (bool, error)
	// AliasTarget returns the Target_Domain of the domain_alias row whose
	// Source_Domain is name, as stored.
	AliasTarget(name string) (target string, ok bool, err error)
}

// Source is everything the decision reads: the rows in the database and the
// block_regex patterns, which are matched in memory.
type Source interface {
	Lookup
	// MatchRegex returns a block_regex pattern that matches name.
	MatchRegex(name string) (pattern string, ok bool)
}

// step is one probe of steps 1–3: a table, whether every suffix of the name
// is probed or only the name itself, and the action a hit takes.
type step struct {
	table  schema.Table
	suffix bool
	action Action
}

// The steps in order: allow beats every block, a block beats the block
// upstream; the regex step sits between wildcard and block upstream and is
// not a table probe (see decideName).
var (
	allowStep    = step{schema.Allow, true, ActionAllow}
	blockSteps   = []step{{schema.BlockExact, false, ActionBlock}, {schema.BlockWildcard, true, ActionBlock}}
	upstreamStep = step{schema.DNSBlock, true, ActionBlockUpstream}
)

// Decide returns the verdict for a canonical name. It knows nothing
// of DNS messages, so the admin command's explain shares this code path with
// the server.
//
// Steps 1–3 decide the name; if none applies, the longest alias suffix turns
// it into a new name, which is decided by steps 1–3 again, and so on for at
// most MaxAliasChain aliases. An alias target that is allowed, or has no
// rule, ends the chain with ActionAlias; one that is blocked gives the
// block verdict for the query.
func Decide(src Source, name string) (Verdict, error) {
	var v Verdict
	if name == "" {
		return v, nil
	}
	for cur := name; ; {
		action, rule, err := decideName(src, cur)
		if err != nil {
			return Verdict{}, err
		}
		if action != ActionPass {
			v.Action, v.Rule = action, rule
			if action == ActionAllow && len(v.Aliases) > 0 {
				// An allowed target is not aliased further; the chain
				// answers it.
				v.Action, v.Rule = ActionAlias, v.Aliases[len(v.Aliases)-1].Rule
			}
			return v, nil
		}
		hop, ok, err := alias(src, cur, &v.Skipped)
		if err != nil {
			return Verdict{}, err
		}
		if !ok {
			if len(v.Aliases) > 0 {
				v.Action, v.Rule = ActionAlias, v.Aliases[len(v.Aliases)-1].Rule
			}
			return v, nil
		}
		if hop.Name == "" || len(v.Aliases) == MaxAliasChain || hop.Name == name || visited(v.Aliases, hop.Name) {
			v.Action, v.Rule, v.Target = ActionAliasFail, hop.Rule, hop.Name
			return v, nil
		}
		v.Aliases = append(v.Aliases, hop)
		v.Target = hop.Name
		cur = hop.Name
	}
}

// decideName runs steps 1–3 for one name.
func decideName(src Source, name string) (Action, Rule, error) {
	key, ok, err := probe(src, allowStep, name)
	if err != nil || ok {
		return ActionAllow, Rule{allowStep.table, key}, err
	}
	for _, st := range blockSteps {
		key, ok, err := probe(src, st, name)
		if err != nil || ok {
			return ActionBlock, Rule{st.table, key}, err
		}
	}
	if pattern, ok := src.MatchRegex(name); ok {
		return ActionBlock, Rule{schema.BlockRegex, pattern}, nil
	}
	key, ok, err = probe(src, upstreamStep, name)
	if err != nil || ok {
		return ActionBlockUpstream, Rule{upstreamStep.table, key}, err
	}
	return ActionPass, Rule{}, nil
}

// probe looks name up in the step's table; for a suffix step it tries name
// itself first, then every parent down to the TLD, with no depth cap, and
// returns the longest suffix that has a row.
func probe(src Lookup, st step, name string) (string, bool, error) {
	for s, more := name, true; more; s, more = Parent(s) {
		ok, err := src.Has(st.table, s)
		if err != nil || ok {
			return s, ok, err
		}
		if !st.suffix {
			break
		}
	}
	return "", false, nil
}

// alias finds the longest suffix S of name with a usable domain_alias row
// S → T and returns the hop to P.T, where name = P.S. A row whose target is
// not a valid name is recorded in skipped and the walk goes on to shorter
// suffixes, as if the row were absent. A hop whose name would be longer than
// a domain name may be has an empty Name.
func alias(src Lookup, name string, skipped *[]Skipped) (Hop, bool, error) {
	for s, more := name, true; more; s, more = Parent(s) {
		target, ok, err := src.AliasTarget(s)
		if err != nil {
			return Hop{}, false, err
		}
		if !ok {
			continue
		}
		rule := Rule{schema.Alias, s}
		t, valid := CanonicalTarget(target)
		if !valid {
			*skipped = append(*skipped, Skipped{rule, ReasonBadTarget, target})
			continue
		}
		out := name[:len(name)-len(s)] + t // P keeps its trailing dot
		if !ValidName(out) {
			out = ""
		}
		return Hop{rule, out}, true, nil
	}
	return Hop{}, false, nil
}

// visited reports whether the chain already went through name.
func visited(hops []Hop, name string) bool {
	for _, h := range hops {
		if h.Name == name {
			return true
		}
	}
	return false
}
