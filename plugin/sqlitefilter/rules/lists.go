package rules

import (
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
)

// ListedRegex matches the block_regex patterns of some lists only. When every
// pattern has the same lists (the common case: a database without lists has
// them all in `default`) it is the regex set itself, matched once; otherwise
// it holds a set per distinct lists value, and a name is matched against the
// sets of the lists that apply.
type ListedRegex struct {
	all     *RegexSet
	uniform policy.Lists // the lists of every pattern, when they are all the same
	groups  []regexGroup // by lists, when they are not
}

type regexGroup struct {
	lists policy.Lists
	set   *RegexSet
}

// newListedRegex returns the patterns of all (rows, sorted) with their lists.
func newListedRegex(all *RegexSet, rows []row, masks map[string]policy.Lists) *ListedRegex {
	x := &ListedRegex{all: all, uniform: policy.DefaultLists}
	byLists := map[policy.Lists][]string{}
	var order []policy.Lists
	for _, r := range rows {
		m := masks[r.key]
		if _, ok := byLists[m]; !ok {
			order = append(order, m)
		}
		byLists[m] = append(byLists[m], r.key)
	}
	switch len(order) {
	case 0:
		return x
	case 1:
		x.uniform = order[0]
		return x
	}
	x.uniform = 0
	for _, m := range order {
		b := NewRegexSetBuilder()
		b.Reuse(all)
		for _, p := range byLists[m] {
			b.Add(p) // a pattern that does not compile was reported with all
		}
		x.groups = append(x.groups, regexGroup{m, b.Build()})
	}
	return x
}

// Match returns the least pattern, in byte order, of the lists in that
// matches name, and the pattern's lists.
func (x *ListedRegex) Match(name string, in policy.Lists) (string, policy.Lists, bool) {
	if x.groups == nil {
		if x.uniform&in == 0 {
			return "", 0, false
		}
		p, ok := x.all.Match(name)
		return p, x.uniform, ok
	}
	var best string
	var lists policy.Lists
	found := false
	for _, g := range x.groups {
		if g.lists&in == 0 {
			continue
		}
		if p, ok := g.set.Match(name); ok && (!found || p < best) {
			best, lists, found = p, g.lists, true
		}
	}
	return best, lists, found
}
