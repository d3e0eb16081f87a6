package sqlitefilter

import (
	"fmt"
	"slices"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// rules is the rule data held in memory rather than probed in SQLite: the
// block_regex patterns (a regexp cannot be looked up by key) and the address
// rewrites (looked up per answer record, and small in practice). Both are
// capped by configuration (regex_max, rewrite_max), so memory stays bounded
// whatever the database holds. A rules value is built in the background from
// one snapshot of one Store and replaced whole when the data changes; until
// the first one is built, regexes and rewrites simply do not apply.
type rules struct {
	store   *Store
	gen     uint64
	regex   *RegexSet
	rewrite *AddrRewrites
	// noAliases: domain_alias had no row in generation gen, so queries of
	// that generation need not probe it.
	noAliases bool
	// rows read, to skip recompiling when a change touched other tables
	regexRows   []row
	rewriteRows [2][]row
}

type row struct{ key, target string }

// loadRules reads the in-memory tables of s and builds them, reusing from
// prev whatever did not change.
func loadRules(s *Store, cfg *Config, prev *rules, rep *skipReporter) (*rules, error) {
	r := &rules{store: s, gen: s.Generation()}
	var err error
	if r.regexRows, err = readRows(s, schema.BlockRegex, cfg.RegexMax, "regex_max", rep); err != nil {
		return nil, err
	}
	for i, t := range []schema.Table{schema.RewriteV4, schema.RewriteV6} {
		if r.rewriteRows[i], err = readRows(s, t, cfg.RewriteMax, "rewrite_max", rep); err != nil {
			return nil, err
		}
	}
	hasAlias, err := s.Scan(schema.Alias, 0, func(string, string) {})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", schema.Alias.Name(), err)
	}
	r.noAliases = !hasAlias
	if prev != nil && slices.Equal(prev.regexRows, r.regexRows) {
		r.regex = prev.regex
	} else {
		b := NewRegexSetBuilder()
		for _, rw := range r.regexRows {
			if err := b.Add(rw.key); err != nil {
				rep.report(Skipped{Rule: Rule{schema.BlockRegex, rw.key}, Reason: ReasonBadPattern}, err.Error())
			}
		}
		r.regex = b.Build()
	}
	if prev != nil && slices.Equal(prev.rewriteRows[0], r.rewriteRows[0]) && slices.Equal(prev.rewriteRows[1], r.rewriteRows[1]) {
		r.rewrite = prev.rewrite
	} else {
		b := NewAddrRewritesBuilder()
		for i, t := range []schema.Table{schema.RewriteV4, schema.RewriteV6} {
			for _, rw := range r.rewriteRows[i] {
				if reason := b.Add(t, rw.key, rw.target); reason != "" {
					rep.report(Skipped{Rule{t, rw.key}, reason, rw.target}, "")
				}
			}
		}
		r.rewrite = b.Build()
	}
	rulesLoaded.WithLabelValues(s.path, schema.BlockRegex.Name()).Set(float64(r.regex.Len()))
	rulesLoaded.WithLabelValues(s.path, "ip_rewrite").Set(float64(r.rewrite.Len()))
	return r, nil
}

func readRows(s *Store, t schema.Table, limit int, option string, rep *skipReporter) ([]row, error) {
	var rows []row
	more, err := s.Scan(t, limit, func(key, target string) {
		rows = append(rows, row{key, target})
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", t.Name(), err)
	}
	if more {
		rep.reportOverCap(t, limit, option)
	}
	return rows, nil
}
