#!/usr/bin/env bash
# size_bench.sh [N…]: bytes per entry of each layout after ANALYZE + VACUUM
# (`sqlitefilter optimize`), for N names in block_wildcard (default 1000000
# 10000000), with the size of every b-tree from dbstat. Also measures one
# variant that is NOT shipped: normalized with an INTEGER record_type (what
# SPEC §2's text CHECK costs). Data goes to $BENCH_DIR (default
# /tmp/sqlitefilter-tooling-bench).
set -euo pipefail
dir=${BENCH_DIR:-/tmp/sqlitefilter-tooling-bench}; mkdir -p "$dir"
root=$(cd "$(dirname "$0")/../.." && pwd)
go build -o "$dir/sqlitefilter" "$root/cmd/sqlitefilter"
sf=$dir/sqlitefilter
[ $# -gt 0 ] || set -- 1000000 10000000
report() { # DB N LABEL
  local size; size=$(stat -c %s "$1")
  awk -v s="$size" -v n="$2" -v l="$3" 'BEGIN { printf "%-10s %-32s %12d bytes  %6.1f B/entry\n", n, l, s, s / n }'
  sqlite3 "$1" "SELECT '    ' || name || ' ' || printf('%.1f', sum(pgsize) * 1.0 / $2) || ' B/entry' FROM dbstat GROUP BY name HAVING sum(pgsize) > 4096 * 4 ORDER BY sum(pgsize) DESC"
}
for n in "$@"; do
  list=$dir/list-$n.txt
  [ -s "$list" ] || "$root/test/scripts/genlist.sh" "$n" "$list"
  awk '{ s += length($0) } END { printf "%-10s average name length %.1f bytes\n", NR, s / NR }' "$list"
  for layout in per-type normalized; do
    db=$dir/size-$n-$layout.db
    rm -f "$db" "$db-wal" "$db-shm"
    "$sf" init "$db" --layout "$layout"
    "$sf" import "$db" --table block_wildcard "$list" > /dev/null
    "$sf" optimize "$db" > /dev/null
    report "$db" "$n" "$layout"
  done
  # Not shipped: record_type as a small integer instead of the text of SPEC §2.
  db=$dir/size-$n-normalized-int.db
  cp "$dir/size-$n-normalized.db" "$db"
  sqlite3 "$db" "
    CREATE TABLE records_int (record_id INTEGER PRIMARY KEY AUTOINCREMENT, domain_id INTEGER NOT NULL,
      record_type INTEGER NOT NULL, target_value TEXT, priority INTEGER NOT NULL DEFAULT 0, UNIQUE (domain_id, record_type));
    INSERT INTO records_int SELECT record_id, domain_id, 3, target_value, priority FROM records;
    DROP VIEW block_exact; DROP VIEW block_wildcard; DROP VIEW block_regex; DROP VIEW fqdn_dns_allow;
    DROP VIEW fqdn_dns_block; DROP VIEW domain_alias; DROP VIEW ip_rewrite_v4; DROP VIEW ip_rewrite_v6;
    DROP TABLE records; VACUUM; ANALYZE;"
  report "$db" "$n" "normalized, INTEGER record_type"
done
