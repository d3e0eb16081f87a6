package sqlitefilter

import (
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// Action is what the decision does with a query.
type Action uint8

// The actions of SPEC §3, in the vocabulary of the acl plugin.
const (
	ActionPass          Action = iota // no rule: the next plugin answers
	ActionAllow                       // an allow row exempts the name from every block and alias
	ActionBlock                       // answered as blocked (SPEC §4)
	ActionBlockUpstream               // sent to the block upstream
	ActionAlias                       // answered with a CNAME to Verdict.Target
)

var actionNames = [...]string{"pass", "allow", "block", "block_upstream", "alias"}

func (a Action) String() string { return actionNames[a] }

// Rule names the row that decided a verdict.
type Rule struct {
	Table schema.Table
	Key   string // the row's domain, pattern or source
}

func (r Rule) String() string { return r.Table.Name() + " " + r.Key }

// Verdict is the decision for one name.
type Verdict struct {
	Action Action
	Rule   Rule   // the row that decided; zero for ActionPass
	Target string // ActionAlias: the name the query is aliased to
}

// Source answers the questions the decision asks of the rule data. A Source
// is used by one goroutine at a time.
type Source interface {
	// Has reports whether table t holds a row whose key is key.
	Has(t schema.Table, key string) (bool, error)
}

// step is one probe of the decision: a table, whether every suffix of the
// name is probed or only the name itself, and the action a hit takes.
type step struct {
	table  schema.Table
	suffix bool
	action Action
}

// steps is SPEC §3 in order: allow beats every block, a block beats the
// block upstream.
var steps = []step{
	{schema.Allow, true, ActionAllow},
	{schema.BlockExact, false, ActionBlock},
	{schema.BlockWildcard, true, ActionBlock},
	{schema.DNSBlock, true, ActionBlockUpstream},
}

// Decide returns the verdict for a canonical name (SPEC §3). It knows nothing
// of DNS messages, so the admin command's explain shares this code path with
// the server.
func Decide(src Source, name string) (Verdict, error) {
	if name == "" {
		return Verdict{}, nil
	}
	for _, st := range steps {
		key, ok, err := probe(src, st, name)
		if err != nil {
			return Verdict{}, err
		}
		if ok {
			return Verdict{Action: st.action, Rule: Rule{st.table, key}}, nil
		}
	}
	return Verdict{}, nil
}

// probe looks name up in the step's table; for a suffix step it tries name
// itself first, then every parent down to the TLD, with no depth cap, and
// returns the longest suffix that has a row.
func probe(src Source, st step, name string) (string, bool, error) {
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
