// Package rules holds the rules sqlitefilter keeps in memory rather than
// probing them in SQLite: the block_regex patterns (a regexp cannot be looked
// up by key), the address rewrites and the blocked answer addresses (looked
// up per answer record by longest prefix, and small in practice). Both are capped by configuration, so memory stays bounded
// whatever the database holds.
package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// Set is the in-memory rules read from one snapshot of one database. It is
// immutable once loaded; a change in the data loads a new one.
type Set struct {
	Regex   *RegexSet
	Rewrite *AddrRewrites
	BlockIP *AddrSet // block_ip_v4 and block_ip_v6
	// NoAliases: domain_alias had no row when the set was read, so queries
	// against that same data need not probe it.
	NoAliases bool
	// rows read, to skip recompiling when a change touched other tables
	regexRows   []row
	rewriteRows [2][]row
	blockIPRows [2][]row
}

type row struct{ key, target string }

// Limits caps the rows held in memory.
type Limits struct {
	RegexMax   int // block_regex patterns
	RewriteMax int // rows of each ip_rewrite table
	BlockIPMax int // rows of each block_ip table
}

// DefaultLimits are the caps of a Corefile stanza with no options, and of the
// admin command's explain.
var DefaultLimits = Limits{RegexMax: 100000, RewriteMax: 100000, BlockIPMax: 100000}

// Scanner reads the rows of a small table (a Store does).
type Scanner interface {
	// Scan calls fn with the key and target of at most limit rows of t, and
	// reports whether the table holds more rows than that.
	Scan(t schema.Table, limit int, fn func(key, target string)) (more bool, err error)
}

// Reporter is told about every row that cannot be used, with a detail for
// the log.
type Reporter func(s policy.Skipped, detail string)

// Load reads the in-memory tables from src and builds them, reusing from
// prev (which may be nil) whatever did not change.
func Load(src Scanner, lim Limits, prev *Set, report Reporter) (*Set, error) {
	r := &Set{}
	var err error
	if r.regexRows, err = readRows(src, schema.BlockRegex, lim.RegexMax, "regex_max", report); err != nil {
		return nil, err
	}
	for i, t := range []schema.Table{schema.RewriteV4, schema.RewriteV6} {
		if r.rewriteRows[i], err = readRows(src, t, lim.RewriteMax, "rewrite_max", report); err != nil {
			return nil, err
		}
	}
	for i, t := range []schema.Table{schema.BlockIPv4, schema.BlockIPv6} {
		if r.blockIPRows[i], err = readRows(src, t, lim.BlockIPMax, "block_ip_max", report); err != nil {
			return nil, err
		}
	}
	hasAlias, err := src.Scan(schema.Alias, 0, func(string, string) {})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", schema.Alias.Name(), err)
	}
	r.NoAliases = !hasAlias
	// Sorted, so that the first pattern of the set that matches is the least
	// (RegexSet.Match), whatever order the table was read in.
	slices.SortFunc(r.regexRows, func(a, b row) int { return strings.Compare(a.key, b.key) })
	if prev != nil && slices.Equal(prev.regexRows, r.regexRows) {
		r.Regex = prev.Regex
	} else if prev != nil && prev.Regex != nil {
		added, removed := diffRows(prev.regexRows, r.regexRows)
		r.Regex = prev.Regex.With(added, removed, func(p string, err error) {
			report(policy.Skipped{Rule: policy.Rule{Table: schema.BlockRegex, Key: p}, Reason: policy.ReasonBadPattern}, err.Error())
		})
	}
	if r.Regex == nil {
		b := NewRegexSetBuilder()
		if prev != nil {
			b.Reuse(prev.Regex)
		}
		for _, rw := range r.regexRows {
			if err := b.Add(rw.key); err != nil {
				report(policy.Skipped{Rule: policy.Rule{Table: schema.BlockRegex, Key: rw.key}, Reason: policy.ReasonBadPattern}, err.Error())
			}
		}
		r.Regex = b.Build()
	}
	if prev != nil && slices.Equal(prev.rewriteRows[0], r.rewriteRows[0]) && slices.Equal(prev.rewriteRows[1], r.rewriteRows[1]) {
		r.Rewrite = prev.Rewrite
	} else {
		b := NewAddrRewritesBuilder()
		for i, t := range []schema.Table{schema.RewriteV4, schema.RewriteV6} {
			for _, rw := range r.rewriteRows[i] {
				if reason := b.Add(t, rw.key, rw.target); reason != "" {
					report(policy.Skipped{Rule: policy.Rule{Table: t, Key: rw.key}, Reason: reason, Value: rw.target}, "")
				}
			}
		}
		r.Rewrite = b.Build()
	}
	r.BlockIP = loadBlockIP(r.blockIPRows, prev, report)
	return r, nil
}

// loadBlockIP builds the blocked answer addresses from rows, or keeps
// prev's when the rows did not change.
func loadBlockIP(rows [2][]row, prev *Set, report Reporter) *AddrSet {
	if prev != nil && slices.Equal(prev.blockIPRows[0], rows[0]) && slices.Equal(prev.blockIPRows[1], rows[1]) {
		return prev.BlockIP
	}
	b := NewAddrSetBuilder()
	for i, t := range []schema.Table{schema.BlockIPv4, schema.BlockIPv6} {
		for _, rw := range rows[i] {
			if reason := b.Add(t, rw.key); reason != "" {
				report(policy.Skipped{Rule: policy.Rule{Table: t, Key: rw.key}, Reason: reason}, "")
			}
		}
	}
	return b.Build()
}

func readRows(src Scanner, t schema.Table, limit int, option string, report Reporter) ([]row, error) {
	var rows []row
	more, err := src.Scan(t, limit, func(key, target string) {
		rows = append(rows, row{key, target})
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", t.Name(), err)
	}
	if more {
		report(policy.Skipped{Rule: policy.Rule{Table: t}, Reason: policy.ReasonOverCap},
			"the table has more than "+strconv.Itoa(limit)+" rows; only the first are used (raise "+option+")")
	}
	return rows, nil
}

// diffRows returns the keys of to that from lacks, and those of from that
// to lacks.
func diffRows(from, to []row) (added, removed []string) {
	in := make(map[string]bool, len(from))
	for _, r := range from {
		in[r.key] = true
	}
	for _, r := range to {
		if !in[r.key] {
			added = append(added, r.key)
		}
		delete(in, r.key)
	}
	for k := range in {
		removed = append(removed, k)
	}
	return added, removed
}

// Source is the Source of a decision: the rows behind Lookup and the regex
// set held in memory (none while it is being built).
type Source struct {
	policy.Lookup
	Regex *RegexSet
	// NoAliases skips the domain_alias probes: true only when the caller
	// knows the data read has no alias row.
	NoAliases bool
}

// MatchRegex implements policy.Source.
func (s Source) MatchRegex(name string) (string, bool) { return s.Regex.Match(name) }

// AliasTarget implements policy.Lookup.
func (s Source) AliasTarget(name string) (string, bool, error) {
	if s.NoAliases {
		return "", false, nil
	}
	return s.Lookup.AliasTarget(name)
}
