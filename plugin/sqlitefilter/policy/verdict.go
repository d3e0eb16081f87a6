// Package policy is the decision of sqlitefilter: which rule applies to a
// name, in which order, and what the query gets. It knows nothing of DNS
// messages nor of SQLite: it asks a Source, so the server and the admin
// command's explain share one code path.
package policy

import (
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// Action is what the decision does with a query.
type Action uint8

// The actions of a decision, in the vocabulary of the acl plugin.
const (
	ActionPass          Action = iota // no rule: the next plugin answers
	ActionAllow                       // an allow row exempts the name from every block and alias
	ActionBlock                       // answered as blocked (the block_response option says how)
	ActionBlockUpstream               // sent to the block upstream
	ActionAlias                       // answered with a CNAME chain to Verdict.Target
	ActionAliasFail                   // an alias chain loops, is too long or makes an invalid name: SERVFAIL
	ActionBlockCNAME                  // a name the answer leads to (CNAME, DNAME, SVCB target) is blocked
	ActionBlockIP                     // the answer holds an address of block_ip_v4 or block_ip_v6
)

var actionNames = [...]string{"pass", "allow", "block", "block_upstream", "alias", "alias_fail", "block_cname", "block_ip"}

func (a Action) String() string { return actionNames[a] }

// MaxAliasChain is how many alias rows one query may follow; a longer chain
// answers SERVFAIL.
const MaxAliasChain = 8

// Rule names the row that decided a verdict.
type Rule struct {
	Table schema.Table
	Key   string // the row's domain, pattern or source
}

func (r Rule) String() string { return r.Table.Name() + " " + r.Key }

// Hop is one alias row followed: Rule is the domain_alias row, Name the name
// it produced (the sub-labels of the aliased name kept in front of the
// target), Lists the row's lists that applied.
type Hop struct {
	Rule  Rule
	Name  string
	Lists Lists
}

// Skipped is a row the decision met but could not use: it acted as if the
// row were absent, and the caller reports it (a bad row never stops the
// server).
type Skipped struct {
	Rule   Rule
	Reason string
	Value  string // the unusable value, such as the alias target, when not the key
}

// Verdict is the decision for one name.
type Verdict struct {
	Action Action
	// Rule is the row that decided: for ActionAlias the last alias row
	// followed; when an alias target is blocked or sent to the block
	// upstream, the row that matched the target (Aliases says how we got
	// there); for ActionAliasFail the alias row that closed the loop or
	// overran the chain. Zero for ActionPass.
	Rule Rule
	// Aliases are the alias rows followed, in order, before the final
	// decision; empty when the query name was not aliased.
	Aliases []Hop
	// Target is the name the chain ends at when Aliases is not empty.
	Target string
	// Skipped lists unusable rows met on the way.
	Skipped []Skipped
	// Lists are the lists of the row that decided (Rule) that applied to
	// the client; none for ActionPass. For ActionBlockCNAME and
	// ActionBlockIP, those of the row that blocked the answer.
	Lists Lists
	// Answer is what in the answer blocked it: for ActionBlockCNAME the
	// name of the chain, for ActionBlockIP the address.
	Answer string
}

// Own is what steps 1–3 (allow, block, block upstream) decided for the name
// itself, of which v is the verdict: ActionPass when none applied, whether
// or not the name was then aliased. A name met in an answer is decided by
// these steps only; taking them from the whole verdict lets it share the
// verdict cache with query names.
func (v Verdict) Own() (Action, Rule) {
	if len(v.Aliases) == 0 {
		switch v.Action {
		case ActionAllow, ActionBlock, ActionBlockUpstream:
			return v.Action, v.Rule
		}
	}
	return ActionPass, Rule{}
}

// ChecksAnswer reports whether the answer to a query decided as v is
// checked: the query passed on, or aliased, to be answered by someone else.
// An allowed name is exempt from every block, the answer's included; a
// blocked name is answered by the plugin; the block upstream's answer is
// the operator's stand-in for a blocked one.
func (v Verdict) ChecksAnswer() bool {
	return v.Action == ActionPass || v.Action == ActionAlias
}

// The reasons a row is skipped, the reason label of rows_skipped_total.
const (
	ReasonBadPattern  = "bad_pattern"  // block_regex: does not compile
	ReasonBadAddress  = "bad_address"  // ip_rewrite_*: source or target does not parse
	ReasonWrongFamily = "wrong_family" // ip_rewrite_*: an address of the other family
	ReasonDuplicate   = "duplicate"    // ip_rewrite_*: another text form of a source already read
	ReasonBadTarget   = "bad_target"   // domain_alias: the target is not a host name
	ReasonOverCap     = "over_cap"     // the table has more rows than the configured cap
)
