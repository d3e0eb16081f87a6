package schema

import (
	"database/sql"
	"fmt"
)

// Layout is how a database stores its rules.
type Layout uint8

const (
	// PerType has one WITHOUT ROWID table per rule type, under the names the
	// original system used (block_exact, fqdn_dns_allow, …).
	PerType Layout = iota
	// Normalized has domains + records, and views with the per-type names.
	Normalized
)

// The schema versions recorded in sqlitefilter_meta. A database without
// that table (made by hand or by the system sqlitefilter replaces) has
// version 0. Each version has the tables of the one before:
//
//   - 1: the rule tables;
//   - 2 (AnswersVersion): block_ip_v4 and block_ip_v6, the blocked answer
//     addresses (UpgradeAnswers, which the admin command runs before it
//     writes);
//   - 3 (ListsVersion): the lists column on every rule table and the lists
//     and groups tables (Upgrade, which runs UpgradeAnswers first: the admin
//     command's upgrade, list add and import --list), each row's column a
//     plain mask (bit i = list id i);
//   - 4 (ListCodesVersion): the same tables, the lists column of the rule
//     rows holding the encoded mask (listcode.go), which costs one byte for
//     a row in one list whatever the list. Upgrade re-encodes a version 3
//     file's rows; a file that gets the column from version 4 on starts
//     here. The plugin reads either, by the version recorded; the admin
//     command brings a version 3 file to 4 before it writes (UpgradeListCodes).
//
// Create and CreateLayout make a file at CreateVersion: lists are the
// operator's choice (Upgrade says why).
const (
	AnswersVersion   = 2
	ListsVersion     = 3
	ListCodesVersion = 4
	// Version is the newest version, the one Upgrade brings any older file
	// to.
	Version       = ListCodesVersion
	CreateVersion = AnswersVersion
)

var layoutNames = [...]string{PerType: "per-type", Normalized: "normalized"}

func (l Layout) String() string { return layoutNames[l] }

// ParseLayout returns the layout named s ("per-type" or "normalized").
func ParseLayout(s string) (Layout, error) {
	for l, n := range layoutNames {
		if n == s {
			return Layout(l), nil
		}
	}
	return 0, fmt.Errorf("unknown layout %q (want per-type or normalized)", s)
}

// DetectQuery returns one row: the layout's name, or "mixed" when the
// database has both domains+records and a per-type table. It reads only
// sqlite_schema, so it is cheap on any size of database; the plugin runs it
// on its own raw connection.
const DetectQuery = `SELECT CASE
  WHEN (SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('domains', 'records')) < 2 THEN 'per-type'
  WHEN EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name IN (
    'block_exact', 'block_wildcard', 'block_regex', 'fqdn_dns_allow',
    'fqdn_dns_block', 'domain_alias', 'ip_rewrite_v4', 'ip_rewrite_v6',
    'block_ip_v4', 'block_ip_v6')) THEN 'mixed'
  ELSE 'normalized' END`

// ParseDetected turns DetectQuery's result into a layout.
func ParseDetected(s string) (Layout, error) {
	if s == "mixed" {
		return 0, fmt.Errorf("database has both the normalized tables (domains, records) and per-type tables; keep one layout (sqlitefilter migrate)")
	}
	return ParseLayout(s)
}

// Detect returns the layout of an open database.
func Detect(db *sql.DB) (Layout, error) {
	var s string
	if err := db.QueryRow(DetectQuery).Scan(&s); err != nil {
		return 0, fmt.Errorf("detect layout: %w", err)
	}
	return ParseDetected(s)
}

// HasMetaQuery returns one row: 1 when the database has sqlitefilter_meta,
// else 0. VersionQuery, which returns the version recorded there (0 when
// none is), fails without that table.
const (
	HasMetaQuery = `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'sqlitefilter_meta'`
	VersionQuery = `SELECT coalesce((SELECT CAST(value AS INTEGER) FROM sqlitefilter_meta WHERE key = 'schema_version'), 0)`
)

// SchemaVersion returns the version recorded in the database, 0 if none.
func SchemaVersion(db querier) (int, error) {
	var n int
	err := db.QueryRow(HasMetaQuery).Scan(&n)
	if err != nil || n == 0 {
		return 0, err
	}
	var v int
	err = db.QueryRow(VersionQuery).Scan(&v)
	return v, err
}
