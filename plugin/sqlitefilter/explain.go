package sqlitefilter

// Explain decides name against s exactly as the server does once it has
// loaded its in-memory rules: it loads them (regex patterns) from the same
// snapshot machinery and runs Decide. The admin command's explain uses it, so
// it cannot disagree with the server on the same database.
func Explain(s *Store, cfg Config, name string) (Verdict, error) {
	rs, err := loadRules(s, &cfg, nil, newSkipReporter())
	if err != nil {
		return Verdict{}, err
	}
	var v Verdict
	err = s.View(func(l Lookup) error {
		var err error
		v, err = Decide(withRules{Lookup: l, re: rs.regex}, Canonical(name))
		return err
	})
	return v, err
}
