package main

import (
	"fmt"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// tableFlag parses the value of --table.
func tableFlag(name string) (schema.Table, error) {
	if name == "" {
		return 0, fmt.Errorf("--table is required (one of %v)", schema.Tables)
	}
	t, ok := schema.ParseTable(name)
	if !ok {
		return 0, fmt.Errorf("unknown table %q (one of %v)", name, schema.Tables)
	}
	return t, nil
}
