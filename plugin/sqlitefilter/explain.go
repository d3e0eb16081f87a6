package sqlitefilter

// Explain decides name against s exactly as the server does once it has
// loaded its in-memory rules: it loads them (regex patterns) from the same
// snapshot machinery and runs Decide. The admin command's explain uses it, so
// it cannot disagree with the server on the same database.
func Explain(s *Store, cfg Config, name string) (Verdict, error) {
	return ExplainShards(Shards{s}, cfg, name)
}
