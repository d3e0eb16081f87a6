#!/usr/bin/env bash
# lists_bench.sh [N]: what lists cost and how fast import --list is, for N
# names in block_wildcard (default 10000000). Bytes per entry after
# `sqlitefilter optimize` (ANALYZE + VACUUM, which rewrites every record):
#   today      a per-type file without lists
#   default    the same file upgraded: every row in `default` (lists = 1)
#   list 1     every row in list id 1 (lists = 2), by import --list
#   list 7     every row in list id 7 (lists = -8, its code)
# then the time of import --list into a file with lists, and of a re-import
# of the same list with 10 % of its names replaced (one transaction).
# Data goes to $BENCH_DIR (default /tmp/sqlitefilter-lists-bench).
set -euo pipefail
dir=${BENCH_DIR:-/tmp/sqlitefilter-lists-bench}; mkdir -p "$dir"
root=$(cd "$(dirname "$0")/../.." && pwd)
go build -o "$dir/sqlitefilter" "$root/cmd/sqlitefilter"
sf=$dir/sqlitefilter
n=${1:-10000000}
list=$dir/list-$n.txt
[ -s "$list" ] || "$root/test/scripts/genlist.sh" "$n" "$list"
report() { # DB LABEL
  awk -v s="$(stat -c %s "$1")" -v n="$n" -v l="$2" 'BEGIN { printf "%-10s %-10s %12d bytes  %6.2f B/entry\n", n, l, s, s / n }'
}
fresh() { rm -f "$1" "$1-wal" "$1-shm"; "$sf" init "$1" > /dev/null; }
timed() { # LABEL COMMAND…
  local t0 t1; t0=$(date +%s.%N); "${@:2}" > /dev/null; t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" -v n="$n" -v l="$1" 'BEGIN { printf "%-10s %-28s %7.1f s  %5.2f M rows/min\n", n, l, b - a, n / (b - a) * 60 / 1e6 }'
}

today=$dir/today-$n.db; fresh "$today"
"$sf" import "$today" --table block_wildcard "$list" > /dev/null
"$sf" optimize "$today" > /dev/null; report "$today" today

def=$dir/default-$n.db; cp "$today" "$def"
"$sf" upgrade "$def" > /dev/null; "$sf" optimize "$def" > /dev/null; report "$def" default

l1=$dir/list1-$n.db; fresh "$l1"
"$sf" list add "$l1" one > /dev/null
timed "import --list (new)" "$sf" import "$l1" --table block_wildcard --list one "$list"
"$sf" optimize "$l1" > /dev/null; report "$l1" "list 1"

# The same list again with its first 10 % of names replaced by new ones.
re=$dir/relist-$n.txt
awk -v k=$((n / 10)) 'NR <= k { print "new" NR "." $0; next } { print }' "$list" > "$re"
timed "import --list (re-import)" "$sf" import "$l1" --table block_wildcard --list one "$re"

l7=$dir/list7-$n.db; cp "$today" "$l7"
"$sf" upgrade "$l7" > /dev/null
sqlite3 "$l7" "INSERT INTO sqlitefilter_lists (id, name) VALUES (7, 'seven'); UPDATE block_wildcard SET lists = -8;"
"$sf" optimize "$l7" > /dev/null; report "$l7" "list 7"
