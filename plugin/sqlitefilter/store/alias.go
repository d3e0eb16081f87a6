package store

import (
	"context"
	"fmt"
	"io"

	"github.com/mattn/go-sqlite3"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// aliasTarget is the Target_Domain of the domain_alias row keyed by name. The statement is prepared on a connection's first alias
// lookup, so databases without aliases never pay for it.
func (src lent) aliasTarget(name string) (string, bool, error) {
	if !src.s.present[schema.Alias] {
		return "", false, nil
	}
	c := src.c
	if c.alias == nil {
		q := aliasQuery(src.s.layout)
		st, err := c.c.Prepare(q)
		if err != nil {
			return "", false, fmt.Errorf("prepare %q: %w", q, err)
		}
		c.alias = st.(*sqlite3.SQLiteStmt)
	}
	c.args[0].Value = name
	rows, err := c.alias.QueryContext(context.Background(), c.args)
	if err != nil {
		if src.s.dropped(err) {
			return "", false, nil
		}
		return "", false, err
	}
	err = rows.Next(c.dest)
	if cerr := rows.Close(); err == nil && cerr != nil {
		return "", false, cerr
	}
	switch err {
	case nil:
		return text(c.dest[0]), true, nil
	case io.EOF:
		return "", false, nil
	default:
		return "", false, err
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
