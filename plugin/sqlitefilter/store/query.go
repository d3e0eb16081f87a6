package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"

	"github.com/mattn/go-sqlite3"
)

// QueryString runs a query returning one value and formats it as text.
func QueryString(c *sqlite3.SQLiteConn, q string, args ...any) (string, error) {
	nv := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	rows, err := c.QueryContext(context.Background(), q, nv)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil {
		if err == io.EOF {
			return "", fmt.Errorf("%s: no rows", q)
		}
		return "", err
	}
	switch v := dest[0].(type) {
	case []byte:
		return string(v), nil
	default:
		return fmt.Sprint(v), nil
	}
}

// QueryInt runs a query returning one whole number.
func QueryInt(c *sqlite3.SQLiteConn, q string, args ...any) (int64, error) {
	s, err := QueryString(c, q, args...)
	if err != nil {
		return 0, err
	}
	var n int64
	_, err = fmt.Sscan(s, &n)
	return n, err
}
