package rules

import (
	"fmt"
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
	ac       *acMatcher
	always   []int32 // patterns with no usable literal, tried on every name
}

// RegexSetBuilder compiles patterns one at a time.
type RegexSetBuilder struct {
	patterns []string
	res      []*regexp.Regexp
	ac       *acBuilder
	always   []int32
}

// NewRegexSetBuilder returns an empty builder.
func NewRegexSetBuilder() *RegexSetBuilder {
	return &RegexSetBuilder{ac: newACBuilder()}
}

// Add compiles pattern (Go RE2 syntax, unanchored). A pattern that does not
// compile is an error and is not added.
func (b *RegexSetBuilder) Add(pattern string) error {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return fmt.Errorf("pattern %q: %w", pattern, err)
	}
	tree, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return fmt.Errorf("pattern %q: %w", pattern, err)
	}
	id := int32(len(b.patterns))
	b.patterns = append(b.patterns, pattern)
	b.res = append(b.res, re)
	lits := requiredLiterals(tree)
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
	return &RegexSet{patterns: b.patterns, res: b.res, ac: b.ac.build(), always: b.always}
}

// Len is the number of patterns in the set.
func (s *RegexSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.patterns)
}

// Unfiltered is the number of patterns tried on every name because they have
// no literal the prefilter can use.
func (s *RegexSet) Unfiltered() int {
	if s == nil {
		return 0
	}
	return len(s.always)
}

// Match returns the first pattern, in table order, that matches name. A nil
// set matches nothing.
func (s *RegexSet) Match(name string) (string, bool) {
	if s == nil || len(s.patterns) == 0 {
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
		if s.res[id].MatchString(name) {
			return s.patterns[id], true
		}
	}
	return "", false
}
