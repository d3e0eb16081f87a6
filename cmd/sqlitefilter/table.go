package main

import (
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// tableFlag parses the value of --table; a missing or unknown table is a
// usage error.
func tableFlag(name string) (schema.Table, error) {
	if name == "" {
		return 0, usagef("--table is required (one of %v)", schema.Tables)
	}
	t, ok := schema.ParseTable(name)
	if !ok {
		return 0, usagef("unknown table %q (one of %v)", name, schema.Tables)
	}
	return t, nil
}

// pairColumns selects a (key, target) pair from t: its key column and its
// target column, or NULL for a table that only holds keys.
func pairColumns(t schema.Table) string {
	if t.TargetColumn() == "" {
		return t.KeyColumn() + ", NULL"
	}
	return t.KeyColumn() + ", " + t.TargetColumn()
}
