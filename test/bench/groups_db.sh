#!/usr/bin/env bash
# groups_db.sh SRC DST SQLITEFILTER [BENCHTOOL]: DST is SRC (a database made by
# `benchtool gen`) with 64 lists and 10 client groups, for the load
# benchmark's groups case and the size measurement (lists_size.sh): every row
# is in exactly one of the 64 lists (list 0, `default`, included), spread by
# a hash of its key, so that the rows' lists values cover every code the
# schema stores (1 byte each: lists 7..63 are -8..-64, 0..6 their masks).
# With TWO_LISTS=P, P % of the rows (by another hash of the key) are in a
# second list too (their value is then the plain 2-bit mask, up to 8 bytes).
# 10 groups name 10 client prefixes; the group of 127.0.0.1/32 (where
# dnsperf asks from), `bench`, holds all 64 lists, so every row applies to it
# and the verdicts, and the work the upstream and the filter do per query,
# are those of SRC: the difference in QPS is what lists and groups cost.
# The values are written through the schema's own encoding, which BENCHTOOL
# (default: benchtool next to SQLITEFILTER) prints as SQL.
set -euo pipefail
src=$1 dst=$2 sf=$3 bt=${4:-$(dirname "$3")/benchtool}
two=${TWO_LISTS:-0}
rm -f "$dst" "$dst-wal" "$dst-shm"
sqlite3 "$src" "VACUUM INTO '$dst'"
"$sf" upgrade "$dst" > /dev/null
# h: the row's list (0..63), from the fast-changing characters of the key;
# j: 0..99, a second hash, for the rows in two lists.
hash() { echo "((unicode(substr($1, 7, 1)) * 31 + unicode(substr($1, 6, 1)) * 7 + unicode(substr($1, 5, 1)) + length($1) * 3) % 64)"; }
second() { echo "((unicode(substr($1, 4, 1)) * 13 + unicode(substr($1, 7, 1)) * 17 + length($1)) % 100)"; }
value() { # KEY-COLUMN: the lists value of the row
	local h j
	h=$(hash "$1") j=$(second "$1")
	"$bt" lists-sql "((1 << $h) | CASE WHEN $j < $two THEN 1 << (($h + 1 + $j % 63) % 64) ELSE 0 END)"
}
{
	echo "BEGIN;"
	for i in $(seq 1 63); do echo "INSERT INTO sqlitefilter_lists (id, name) VALUES ($i, 'list$i');"; done
	for t in block_exact block_wildcard fqdn_dns_allow fqdn_dns_block; do
		echo "UPDATE $t SET lists = $(value Domain);"
	done
	echo "UPDATE domain_alias SET lists = $(value Source_Domain);"
	for g in $(seq 0 8); do
		echo "INSERT INTO sqlitefilter_groups (name, lists) VALUES ('group$g', $(( (1 << (g + 20)) | 1 )));"
		echo "INSERT INTO sqlitefilter_group_clients VALUES ('10.$g.0.0/16', 'group$g');"
	done
	# 127.0.0.1's group: every list (a group's lists are a plain mask).
	echo "INSERT INTO sqlitefilter_groups (name, lists) VALUES ('bench', -1);"
	echo "INSERT INTO sqlitefilter_group_clients VALUES ('127.0.0.1/32', 'bench');"
	echo "COMMIT;"
} | sqlite3 "$dst"
sqlite3 "$dst" "PRAGMA journal_mode=WAL" > /dev/null
