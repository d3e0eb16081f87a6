package policy

import (
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// Lookup answers the questions the decision asks of the rows stored in the
// database, one key at a time. A Lookup is used by one goroutine at a time.
type Lookup interface {
	// Lists returns the lists of the row of table t whose key is key, and
	// none (0) when t has no such row. A database without lists has every
	// row in `default`.
	Lists(t schema.Table, key string) (Lists, error)
	// AliasTarget returns the Target_Domain of the domain_alias row whose
	// Source_Domain is name, as stored, and its lists (none: no row).
	AliasTarget(name string) (target string, lists Lists, err error)
}

// Source is everything the decision reads: the rows in the database and the
// block_regex patterns, which are matched in memory.
type Source interface {
	Lookup
	// MatchRegex returns a block_regex pattern of one of the lists in that
	// matches name, and the pattern's lists.
	MatchRegex(name string, in Lists) (pattern string, lists Lists, ok bool)
}

// step is one probe of steps 1–3: a table, whether every suffix of the name
// is probed or only the name itself, the action a hit takes, and whether it
// is a block (which a paused group does not apply).
type step struct {
	table  schema.Table
	suffix bool
	action Action
	block  bool
}

// The steps in order: allow beats every block, a block beats the block
// upstream; the regex step sits between wildcard and block upstream and is
// not a table probe (see decideName).
var (
	allowStep    = step{schema.Allow, true, ActionAllow, false}
	blockSteps   = []step{{schema.BlockExact, false, ActionBlock, true}, {schema.BlockWildcard, true, ActionBlock, true}}
	upstreamStep = step{schema.DNSBlock, true, ActionBlockUpstream, true}
)

// Decide returns the verdict for a canonical name with every list applying
// (DecideFor with Everyone). It knows nothing
// of DNS messages, so the admin command's explain shares this code path with
// the server.
//
// Steps 1–3 decide the name; if none applies, the longest alias suffix turns
// it into a new name, which is decided by steps 1–3 again, and so on for at
// most MaxAliasChain aliases. An alias target that is allowed, or has no
// rule, ends the chain with ActionAlias; one that is blocked gives the
// block verdict for the query.
func Decide(src Source, name string) (Verdict, error) {
	return DecideFor(src, name, Everyone)
}

// DecideFor is Decide for a client whose lists are sc: a row applies only
// when it is in one of them (of sc.Blocks for the block steps), and a row
// that does not apply is as if it were absent, so a shorter suffix may
// still decide. Verdict.Lists names the lists of the row that decided.
func DecideFor(src Source, name string, sc Scope) (Verdict, error) {
	var v Verdict
	if name == "" {
		return v, nil
	}
	for cur := name; ; {
		action, rule, lists, err := decideName(src, cur, sc)
		if err != nil {
			return Verdict{}, err
		}
		if action != ActionPass {
			v.Action, v.Rule, v.Lists = action, rule, lists
			if action == ActionAllow && len(v.Aliases) > 0 {
				// An allowed target is not aliased further; the chain
				// answers it.
				last := v.Aliases[len(v.Aliases)-1]
				v.Action, v.Rule, v.Lists = ActionAlias, last.Rule, last.Lists
			}
			return v, nil
		}
		hop, ok, err := alias(src, cur, sc.Lists, &v.Skipped)
		if err != nil {
			return Verdict{}, err
		}
		if !ok {
			if len(v.Aliases) > 0 {
				last := v.Aliases[len(v.Aliases)-1]
				v.Action, v.Rule, v.Lists = ActionAlias, last.Rule, last.Lists
			}
			return v, nil
		}
		if hop.Name == "" || len(v.Aliases) == MaxAliasChain || hop.Name == name || visited(v.Aliases, hop.Name) {
			v.Action, v.Rule, v.Target, v.Lists = ActionAliasFail, hop.Rule, hop.Name, hop.Lists
			return v, nil
		}
		v.Aliases = append(v.Aliases, hop)
		v.Target = hop.Name
		cur = hop.Name
	}
}

// decideName runs steps 1–3 for one name, and returns the lists of the
// row that decided, within those of sc.
func decideName(src Source, name string, sc Scope) (Action, Rule, Lists, error) {
	key, m, err := probe(src, allowStep, name, sc.Lists)
	if err != nil || m != 0 {
		return ActionAllow, Rule{allowStep.table, key}, m, err
	}
	if sc.Blocks == 0 {
		return ActionPass, Rule{}, 0, nil
	}
	for _, st := range blockSteps {
		key, m, err := probe(src, st, name, sc.Blocks)
		if err != nil || m != 0 {
			return ActionBlock, Rule{st.table, key}, m, err
		}
	}
	if pattern, m, ok := src.MatchRegex(name, sc.Blocks); ok {
		return ActionBlock, Rule{schema.BlockRegex, pattern}, m & sc.Blocks, nil
	}
	key, m, err = probe(src, upstreamStep, name, sc.Blocks)
	if err != nil || m != 0 {
		return ActionBlockUpstream, Rule{upstreamStep.table, key}, m, err
	}
	return ActionPass, Rule{}, 0, nil
}

// probe looks name up in the step's table; for a suffix step it tries name
// itself first, then every parent down to the TLD, with no depth cap, and
// returns the longest suffix that has a row in one of the lists in, and the
// lists of that row among them. A row of other lists is passed over.
func probe(src Lookup, st step, name string, in Lists) (string, Lists, error) {
	for s, more := name, true; more; s, more = Parent(s) {
		m, err := src.Lists(st.table, s)
		if err != nil {
			return s, 0, err
		}
		if m &= in; m != 0 {
			return s, m, nil
		}
		if !st.suffix {
			break
		}
	}
	return "", 0, nil
}

// alias finds the longest suffix S of name with a usable domain_alias row
// in one of the lists in, S → T, and returns the hop to P.T, where name = P.S. A row whose target is
// not a valid name is recorded in skipped and the walk goes on to shorter
// suffixes, as if the row were absent. A hop whose name would be longer than
// a domain name may be has an empty Name.
func alias(src Lookup, name string, in Lists, skipped *[]Skipped) (Hop, bool, error) {
	for s, more := name, true; more; s, more = Parent(s) {
		target, m, err := src.AliasTarget(s)
		if err != nil {
			return Hop{}, false, err
		}
		if m &= in; m == 0 {
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
		return Hop{rule, out, m}, true, nil
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
