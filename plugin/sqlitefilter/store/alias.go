package store

import (
	"context"
	"fmt"
	"io"

	"github.com/mattn/go-sqlite3"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// aliasTarget is the Target_Domain of the domain_alias row keyed by name. The statement is prepared on a connection's first alias
// lookup, so databases without aliases never pay for it.
func (src lent) aliasTarget(name string) (string, policy.Lists, error) {
	if !src.s.present[schema.Alias] {
		return "", 0, nil
	}
	c := src.c
	if c.alias == nil {
		q := aliasQuery(src.s.layout, src.s.lists[schema.Alias])
		st, err := c.c.Prepare(q)
		if err != nil {
			return "", 0, fmt.Errorf("prepare %q: %w", q, err)
		}
		c.alias = st.(*sqlite3.SQLiteStmt)
	}
	c.args[0].Value = name
	rows, err := c.alias.QueryContext(context.Background(), c.args)
	if err != nil {
		if src.s.dropped(err) {
			return "", 0, nil
		}
		return "", 0, err
	}
	err = rows.Next(c.dest2)
	if cerr := rows.Close(); err == nil && cerr != nil {
		return "", 0, cerr
	}
	switch err {
	case nil:
		return text(c.dest2[0]), listsOf(c.dest2[1], c.coded), nil
	case io.EOF:
		return "", 0, nil
	default:
		return "", 0, err
	}
}

// text formats a column value read through the driver as a string.
func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}
