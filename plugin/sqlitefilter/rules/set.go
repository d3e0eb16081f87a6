// Package rules holds the rules sqlitefilter keeps in memory rather than
// probing them in SQLite: the block_regex patterns (a regexp cannot be looked
// up by key), the address rewrites and the blocked answer addresses (looked
// up per answer record by longest prefix, and small in practice). Both are capped by configuration, so memory stays bounded
// whatever the database holds.
package rules

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// Set is the in-memory rules read from one snapshot of one database. It is
// immutable once loaded; a change in the data loads a new one.
type Set struct {
	Regex *RegexSet
	// RegexLists are the lists of the patterns of Regex.
	RegexLists *ListedRegex
	Rewrite    *AddrRewrites
	BlockIP    *AddrSet // block_ip_v4 and block_ip_v6, each row with its lists
	// Clients are the lists and client groups; nil for a database without
	// them, where every row applies to every client.
	Clients *Clients
	// NoAliases: domain_alias had no row when the set was read, so queries
	// against that same data need not probe it.
	NoAliases bool
	// rows read, to skip recompiling when a change touched other tables
	regexRows   []row
	regexMasks  map[string]policy.Lists // lists of regexRows' patterns
	rewriteRows [2][]row
	blockIPRows [2][]row
	blockIPMask [2]map[string]policy.Lists // lists of blockIPRows
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
	// Scan calls fn with the key, target and lists of at most limit rows of
	// t, and reports whether the table holds more rows than that.
	Scan(t schema.Table, limit int, fn func(key, target string, lists policy.Lists)) (more bool, err error)
	// ListTables reports whether the database has the lists and groups
	// tables; ScanListTable reads one of them.
	ListTables() bool
	ScanListTable(table, cols string, fn func(vals []string)) error
}

// Reporter is told about every row that cannot be used, with a detail for
// the log.
type Reporter func(s policy.Skipped, detail string)

// Load reads the in-memory tables from src and builds them, reusing from
// prev (which may be nil) whatever did not change.
func Load(src Scanner, lim Limits, prev *Set, report Reporter) (*Set, error) {
	r := &Set{regexMasks: map[string]policy.Lists{}}
	var err error
	if r.regexRows, err = readRows(src, schema.BlockRegex, lim.RegexMax, "regex_max", report, r.regexMasks); err != nil {
		return nil, err
	}
	for i, t := range []schema.Table{schema.RewriteV4, schema.RewriteV6} {
		if r.rewriteRows[i], err = readRows(src, t, lim.RewriteMax, "rewrite_max", report, nil); err != nil {
			return nil, err
		}
	}
	for i, t := range []schema.Table{schema.BlockIPv4, schema.BlockIPv6} {
		r.blockIPMask[i] = map[string]policy.Lists{}
		if r.blockIPRows[i], err = readRows(src, t, lim.BlockIPMax, "block_ip_max", report, r.blockIPMask[i]); err != nil {
			return nil, err
		}
	}
	if r.Clients, err = loadClients(src); err != nil {
		return nil, err
	}
	hasAlias, err := src.Scan(schema.Alias, 0, func(string, string, policy.Lists) {})
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
	if prev != nil && prev.Regex == r.Regex && maps.Equal(prev.regexMasks, r.regexMasks) {
		r.RegexLists = prev.RegexLists
	} else {
		r.RegexLists = newListedRegex(r.Regex, r.regexRows, r.regexMasks)
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
	r.BlockIP = loadBlockIP(r, prev, report)
	return r, nil
}

// loadBlockIP builds the blocked answer addresses from r's rows, each in its
// lists, or keeps prev's when the rows and their lists did not change.
func loadBlockIP(r, prev *Set, report Reporter) *AddrSet {
	if prev != nil && slices.Equal(prev.blockIPRows[0], r.blockIPRows[0]) && slices.Equal(prev.blockIPRows[1], r.blockIPRows[1]) &&
		maps.Equal(prev.blockIPMask[0], r.blockIPMask[0]) && maps.Equal(prev.blockIPMask[1], r.blockIPMask[1]) {
		return prev.BlockIP
	}
	b := NewAddrSetBuilder()
	for i, t := range []schema.Table{schema.BlockIPv4, schema.BlockIPv6} {
		for _, rw := range r.blockIPRows[i] {
			lists, ok := r.blockIPMask[i][rw.key]
			if !ok {
				lists = policy.DefaultLists
			}
			if reason := b.AddListed(t, rw.key, lists); reason != "" {
				report(policy.Skipped{Rule: policy.Rule{Table: t, Key: rw.key}, Reason: reason}, "")
			}
		}
	}
	return b.Build()
}

// readRows reads the rows of t, and their lists into masks when not nil.
func readRows(src Scanner, t schema.Table, limit int, option string, report Reporter, masks map[string]policy.Lists) ([]row, error) {
	var rows []row
	more, err := src.Scan(t, limit, func(key, target string, lists policy.Lists) {
		rows = append(rows, row{key, target})
		if masks != nil {
			masks[key] = lists
		}
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
// set held in memory (none while it is being built), with the lists of its
// patterns (nil: every pattern is in `default`).
type Source struct {
	policy.Lookup
	Regex      *RegexSet
	RegexLists *ListedRegex
	// NoAliases skips the domain_alias probes: true only when the caller
	// knows the data read has no alias row.
	NoAliases bool
}

// MatchRegex implements policy.Source.
func (s Source) MatchRegex(name string, in policy.Lists) (string, policy.Lists, bool) {
	if s.RegexLists == nil {
		if in&policy.DefaultLists == 0 {
			return "", 0, false
		}
		p, ok := s.Regex.Match(name)
		return p, policy.DefaultLists, ok
	}
	return s.RegexLists.Match(name, in)
}

// AliasTarget implements policy.Lookup.
func (s Source) AliasTarget(name string) (string, policy.Lists, error) {
	if s.NoAliases {
		return "", 0, nil
	}
	return s.Lookup.AliasTarget(name)
}
