package rules

import (
	"fmt"
	"maps"
	"regexp"
	"regexp/syntax"
	"slices"
)

// RegexSet is every block_regex pattern compiled once. A
// name is matched in one pass of an Aho–Corasick automaton over the literals
// the patterns require (prefilter.go); only the patterns whose literal
// occurs in the name, plus the few patterns without a usable literal, run
// their regexp. A RegexSet is immutable once built and safe for concurrent
// use; a change in the table builds a new one.
type RegexSet struct {
	patterns []string
	res      []*regexp.Regexp
	lits     [][]string // each pattern's required literals; nil: none usable
	ac       *acMatcher
	always   []int32 // patterns with no usable literal, tried on every name
	// A set made from another by a few changes (With) shares its compiled
	// patterns and automaton: gone marks the removed ones, extra holds the
	// added ones, which are tried on every name.
	gone  map[int32]bool
	extra []extraPattern
}

type extraPattern struct {
	pattern string
	re      *regexp.Regexp
}

// RegexSetBuilder compiles patterns one at a time.
type RegexSetBuilder struct {
	patterns []string
	res      []*regexp.Regexp
	lits     [][]string
	ac       *acBuilder
	always   []int32
	prev     map[string]int32 // patterns of the set being replaced, by index
	from     *RegexSet
}

// NewRegexSetBuilder returns an empty builder.
func NewRegexSetBuilder() *RegexSetBuilder {
	return &RegexSetBuilder{ac: newACBuilder()}
}

// Reuse lets Add take the compiled form of the patterns prev already holds
// rather than compile them again: a change of one row among a hundred
// thousand then costs the new pattern's compilation and the prefilter's
// automaton, not every pattern's.
func (b *RegexSetBuilder) Reuse(prev *RegexSet) {
	if prev.Len() == 0 {
		return
	}
	b.from, b.prev = prev, make(map[string]int32, len(prev.patterns))
	for i, p := range prev.patterns {
		b.prev[p] = int32(i)
	}
}

// Add compiles pattern (Go RE2 syntax, unanchored). A pattern that does not
// compile is an error and is not added.
func (b *RegexSetBuilder) Add(pattern string) error {
	var (
		re   *regexp.Regexp
		lits []string
	)
	if i, ok := b.prev[pattern]; ok {
		re, lits = b.from.res[i], b.from.lits[i]
	} else {
		var err error
		if re, err = regexp.Compile(pattern); err != nil {
			return fmt.Errorf("pattern %q: %w", pattern, err)
		}
		tree, err := syntax.Parse(pattern, syntax.Perl)
		if err != nil {
			return fmt.Errorf("pattern %q: %w", pattern, err)
		}
		lits = requiredLiterals(tree)
	}
	id := int32(len(b.patterns))
	b.patterns = append(b.patterns, pattern)
	b.res = append(b.res, re)
	b.lits = append(b.lits, lits)
	if lits == nil {
		b.always = append(b.always, id)
	}
	for _, l := range lits {
		b.ac.add(l, id)
	}
	return nil
}

// Len is the number of patterns added.
func (b *RegexSetBuilder) Len() int { return len(b.patterns) }

// Build returns the set; the builder must not be used afterwards.
func (b *RegexSetBuilder) Build() *RegexSet {
	return &RegexSet{patterns: b.patterns, res: b.res, lits: b.lits, ac: b.ac.build(), always: b.always}
}

// Len is the number of patterns in the set.
func (s *RegexSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.patterns) - len(s.gone) + len(s.extra)
}

// Unfiltered is the number of patterns tried on every name because they have
// no literal the prefilter can use.
func (s *RegexSet) Unfiltered() int {
	if s == nil {
		return 0
	}
	n := len(s.extra)
	for _, id := range s.always {
		if !s.gone[id] {
			n++
		}
	}
	return n
}

// Match returns the least pattern, in byte order (the order of the table's
// key), that matches name. A nil set matches nothing.
func (s *RegexSet) Match(name string) (string, bool) {
	if s == nil || s.Len() == 0 {
		return "", false
	}
	best, found := s.matchBase(name)
	for _, e := range s.extra {
		if (!found || e.pattern < best) && e.re.MatchString(name) {
			best, found = e.pattern, true
		}
	}
	return best, found
}

// matchBase is Match over the compiled patterns, which are sorted: the first
// one that matches is the least.
func (s *RegexSet) matchBase(name string) (string, bool) {
	if len(s.patterns) == 0 {
		return "", false
	}
	var buf [32]int32
	cand := s.ac.appendMatches(buf[:0], name)
	if len(cand) > 1 {
		slices.Sort(cand)
		cand = slices.Compact(cand)
	}
	// Merge the two sorted lists so the lowest matching id wins.
	i, j := 0, 0
	for i < len(cand) || j < len(s.always) {
		var id int32
		if j == len(s.always) || (i < len(cand) && cand[i] < s.always[j]) {
			id, i = cand[i], i+1
		} else {
			id, j = s.always[j], j+1
		}
		if !s.gone[id] && s.res[id].MatchString(name) {
			return s.patterns[id], true
		}
	}
	return "", false
}

// maxExtra bounds the patterns a set made by With may add: each is tried on
// every name, so past a few a full build (reusing every compiled pattern)
// is the better set.
const maxExtra = 32

// With returns the set with the patterns added and removed, sharing the
// compiled patterns and the automaton of s, so that a changed row among a
// hundred thousand costs the new pattern's compilation only; bad is told of
// an added pattern that does not compile. It returns nil when the changes
// are too many for that (more than maxExtra added patterns, or more removed
// than an eighth of s or maxExtra, whichever is more), or when s was not
// built from sorted patterns (as Load builds it): the caller builds the set
// anew.
func (s *RegexSet) With(added, removed []string, bad func(pattern string, err error)) *RegexSet {
	if !slices.IsSorted(s.patterns) {
		return nil
	}
	n := &RegexSet{patterns: s.patterns, res: s.res, lits: s.lits, ac: s.ac, always: s.always, gone: maps.Clone(s.gone)}
	if n.gone == nil {
		n.gone = map[int32]bool{}
	}
	drop := map[string]bool{}
	for _, p := range removed {
		if i, ok := slices.BinarySearch(s.patterns, p); ok {
			n.gone[int32(i)] = true
		} else {
			drop[p] = true
		}
	}
	for _, e := range s.extra {
		if !drop[e.pattern] {
			n.extra = append(n.extra, e)
		}
	}
	for _, p := range added {
		if i, ok := slices.BinarySearch(s.patterns, p); ok {
			delete(n.gone, int32(i)) // a removed pattern back again
			continue
		}
		re, err := regexp.Compile(p)
		if err != nil {
			bad(p, fmt.Errorf("pattern %q: %w", p, err))
			continue
		}
		n.extra = append(n.extra, extraPattern{p, re})
	}
	if len(n.extra) > maxExtra || len(n.gone) > max(len(s.patterns)/8, maxExtra) {
		return nil
	}
	return n
}
