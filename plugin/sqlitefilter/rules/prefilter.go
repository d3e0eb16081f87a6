package rules

import (
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The prefilter of the regex set: for each pattern, a small set of literals
// at least one of which occurs in every name the pattern matches (the idea of
// RE2's prefilter, reduced to one OR-set per pattern). A name that contains
// none of a pattern's literals is not run through that pattern.
//
// Literals are lower-cased: names are canonical (ASCII lower case), so a
// case-sensitive upper-case literal can never match, and lowering it only
// adds a candidate that the regexp then rejects. The prefilter may let
// through names the pattern does not match, never the reverse.

const (
	maxExact   = 16 // exact strings a node may expand to before it becomes a match set
	maxClass   = 8  // characters a class may expand to: [_.-] and [a-e] do, [0-9] does not
	maxLits    = 16 // literals a pattern may register; more means "no usable literal"
	minLiteral = 2  // shorter literals would select almost every name
)

// litInfo describes what a regexp node matches.
type litInfo struct {
	// exact, when non-nil, is every string the node can match (possibly
	// including ""); an empty non-nil set means the node matches nothing.
	exact []string
	// match, when exact is nil, is a set of strings one of which occurs in
	// every match; nil means nothing is known.
	match []string
}

var anyInfo = litInfo{}

// requiredLiterals returns the literals of re, or nil when the pattern has
// no usable literal and must be tried against every name.
func requiredLiterals(re *syntax.Regexp) []string {
	lits := info(re).asMatch()
	if lits == nil || len(lits) > maxLits {
		return nil
	}
	if len(lits) > 0 && minLen(lits) < minLiteral {
		return nil
	}
	return lits
}

func info(re *syntax.Regexp) litInfo {
	switch re.Op {
	case syntax.OpNoMatch:
		return litInfo{exact: []string{}}
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return litInfo{exact: []string{""}}
	case syntax.OpLiteral:
		return litInfo{exact: []string{lower(string(re.Rune))}}
	case syntax.OpCharClass:
		return classInfo(re.Rune)
	case syntax.OpCapture:
		return info(re.Sub[0])
	case syntax.OpPlus:
		return litInfo{match: info(re.Sub[0]).asMatch()}
	case syntax.OpQuest:
		sub := info(re.Sub[0])
		if sub.exact != nil && len(sub.exact) < maxExact {
			return litInfo{exact: union(sub.exact, []string{""})}
		}
		return anyInfo
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return litInfo{match: info(re.Sub[0]).asMatch()}
		}
		return anyInfo
	case syntax.OpConcat:
		return concatInfo(re.Sub)
	case syntax.OpAlternate:
		return alternateInfo(re.Sub)
	default: // OpAnyChar, OpAnyCharNotNL, OpStar
		return anyInfo
	}
}

// asMatch turns the info into a match set: an exact set is its own match set
// unless it holds "", which every string contains.
func (i litInfo) asMatch() []string {
	if i.exact == nil {
		return i.match
	}
	if slices.Contains(i.exact, "") {
		return nil
	}
	return simplify(i.exact)
}

// simplify drops from a match set every string that contains another one:
// a name holding "ads.example" holds "ads", so "ads" alone says as much.
func simplify(set []string) []string {
	out := make([]string, 0, len(set))
	for i, s := range set {
		implied := false
		for j, t := range set {
			if i != j && strings.Contains(s, t) && (len(t) < len(s) || j < i) {
				implied = true
				break
			}
		}
		if !implied {
			out = append(out, s)
		}
	}
	return out
}

func concatInfo(subs []*syntax.Regexp) litInfo {
	cur := []string{""} // exact strings of the run of exact nodes being read
	var best []string
	exact := true
	for _, sub := range subs {
		si := info(sub)
		if si.exact != nil && len(cur)*len(si.exact) <= maxExact {
			cur = cross(cur, si.exact)
			continue
		}
		exact = false
		best = better(best, litInfo{exact: cur}.asMatch())
		if si.exact != nil {
			cur = si.exact
		} else {
			best = better(best, si.match)
			cur = []string{""}
		}
	}
	if exact {
		return litInfo{exact: cur}
	}
	return litInfo{match: better(best, litInfo{exact: cur}.asMatch())}
}

func alternateInfo(subs []*syntax.Regexp) litInfo {
	infos := make([]litInfo, len(subs))
	allExact := true
	for i, sub := range subs {
		infos[i] = info(sub)
		allExact = allExact && infos[i].exact != nil
	}
	if allExact {
		var u []string
		for _, si := range infos {
			u = union(u, si.exact)
		}
		if len(u) <= maxExact {
			return litInfo{exact: u}
		}
	}
	var u []string
	for _, si := range infos {
		m := si.asMatch()
		if m == nil {
			return anyInfo
		}
		u = simplify(union(u, m))
		if len(u) > maxLits {
			return anyInfo
		}
	}
	return litInfo{match: u}
}

// classInfo expands a small character class into its characters.
func classInfo(ranges []rune) litInfo {
	var out []string
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i+1]-ranges[i] >= 2*maxExact {
			return anyInfo
		}
		for r := ranges[i]; r <= ranges[i+1]; r++ {
			if out = union(out, []string{lower(string(r))}); len(out) > maxClass {
				return anyInfo
			}
		}
	}
	if out == nil {
		out = []string{}
	}
	return litInfo{exact: out}
}

// better returns the more selective of two match sets: the one whose
// shortest literal is longer, then the one with fewer literals. nil (nothing
// known) is the least selective.
func better(a, b []string) []string {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	la, lb := minLen(a), minLen(b)
	if lb > la || (lb == la && len(b) < len(a)) {
		return b
	}
	return a
}

func minLen(s []string) int {
	m := int(^uint(0) >> 1)
	for _, x := range s {
		m = min(m, len(x))
	}
	return m
}

func cross(a, b []string) []string {
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			if s := x + y; !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	if out == nil {
		out = []string{}
	}
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func lower(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r >= utf8.RuneSelf || unicode.IsUpper(r) }) {
		return s
	}
	return strings.ToLower(s)
}
