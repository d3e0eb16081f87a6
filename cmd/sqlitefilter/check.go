package main

import (
	"database/sql"
	"fmt"
	"regexp"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/rules"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// maxShown is how many bad rows per table check prints.
const maxShown = 10

// runCheck checks the file's integrity and every row: a row that is not in
// canonical form never matches a query (the plugin compares canonical
// names), and a row that cannot be used at all (a pattern that does not
// compile, an address that does not parse) is skipped by the plugin. It
// fails when it finds anything.
func runCheck(args []string) error {
	return onDatabase("check", args, openReadOnly, func(db *database) error {
		problems, err := checkIntegrity(db)
		if err != nil {
			return err
		}
		present, err := schema.Present(db.DB)
		if err != nil {
			return err
		}
		for _, t := range schema.Tables {
			if !present[t] {
				continue
			}
			n, err := checkRows(db.DB, t)
			if err != nil {
				return err
			}
			problems += n
		}
		if db.layout == schema.Normalized {
			n, err := checkNormalized(db.DB)
			if err != nil {
				return err
			}
			problems += n
		}
		if problems > 0 {
			return fmt.Errorf("%s: %d problems", db.path, problems)
		}
		fmt.Printf("%s: ok (%s layout)\n", db.path, db.layout)
		return nil
	})
}

func checkIntegrity(db *database) (int, error) {
	rows, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		return 0, fmt.Errorf("integrity check: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var msg string
		if err := rows.Scan(&msg); err != nil {
			return 0, err
		}
		if msg != "ok" {
			fmt.Printf("integrity: %s\n", msg)
			n++
		}
	}
	return n, rows.Err()
}

// checkRows reports the rows of t that are not canonical or not usable.
func checkRows(db *sql.DB, t schema.Table) (int, error) {
	rows, err := db.Query(fmt.Sprintf("SELECT %s FROM %s", pairColumns(t), t.Name()))
	if err != nil {
		return 0, fmt.Errorf("check %s: %w", t, err)
	}
	defer rows.Close()
	bad := 0
	show := func(format string, args ...any) {
		if bad++; bad <= maxShown {
			fmt.Printf("%s: "+format+"\n", append([]any{t}, args...)...)
		}
	}
	skip := skipChecker{rewrites: rules.NewAddrRewritesBuilder(), blockIP: rules.NewAddrSetBuilder()}
	for rows.Next() {
		var key, tgt sql.NullString
		if err := rows.Scan(&key, &tgt); err != nil {
			return 0, fmt.Errorf("check %s: %w", t, err)
		}
		if !key.Valid || t.TargetColumn() != "" && !tgt.Valid {
			show("%q: NULL key or target, never used", clip(key.String))
			continue
		}
		// First what the plugin itself would skip, by its own code.
		if reason := skip.reason(t, key.String, tgt.String); reason != "" {
			show("%q → %q: the plugin skips it (%s)", clip(key.String), clip(tgt.String), reason)
			continue
		}
		// Then rows that are not in the form import stores: a name that is
		// not canonical never matches a query.
		if c, err := canonicalKey(t, key.String); err != nil {
			show("%q: not a valid %s: %v", clip(key.String), t.KeyColumn(), err)
		} else if c != key.String {
			show("%q: not canonical (%q)", clip(key.String), c)
		}
		if t.TargetColumn() == "" {
			continue
		}
		if c, err := canonicalTarget(t, tgt.String); err != nil {
			show("%q → %q: not a valid %s: %v", clip(key.String), clip(tgt.String), t.TargetColumn(), err)
		} else if c != tgt.String {
			show("%q → %q: target not canonical (%q)", clip(key.String), clip(tgt.String), c)
		}
	}
	if bad > maxShown {
		fmt.Printf("%s: %d more\n", t, bad-maxShown)
	}
	return bad, rows.Err()
}

// skipChecker asks the plugin's own code whether it would skip a row, so
// check and the server agree on what is unusable.
type skipChecker struct {
	rewrites *rules.AddrRewritesBuilder
	blockIP  *rules.AddrSetBuilder
}

func (c skipChecker) reason(t schema.Table, key, target string) string {
	switch t {
	case schema.BlockRegex:
		if _, err := regexp.Compile(key); err != nil {
			return policy.ReasonBadPattern + ": " + err.Error()
		}
	case schema.Alias:
		if _, ok := policy.CanonicalTarget(target); !ok {
			return policy.ReasonBadTarget
		}
	case schema.RewriteV4, schema.RewriteV6:
		return c.rewrites.Add(t, key, target)
	case schema.BlockIPv4, schema.BlockIPv6:
		return c.blockIP.Add(t, key)
	}
	return ""
}

// checkNormalized finds rows of the normalized tables that no view shows.
func checkNormalized(db *sql.DB) (int, error) {
	checks := []struct {
		what, q  string
		harmless bool // wastes space only: reported, not counted
	}{
		{"records pointing at no domain", "SELECT count(*) FROM records WHERE NOT EXISTS (SELECT 1 FROM domains d WHERE d.domain_id = records.domain_id)", false},
		{"domains with no record (harmless, they take space)", "SELECT count(*) FROM domains WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.domain_id = domains.domain_id)", true},
	}
	bad := 0
	for _, c := range checks {
		var n int
		if err := db.QueryRow(c.q).Scan(&n); err != nil {
			return 0, fmt.Errorf("check %s: %w", c.what, err)
		}
		if n > 0 {
			fmt.Printf("%d %s\n", n, c.what)
			if !c.harmless {
				bad += n
			}
		}
	}
	return bad, nil
}
