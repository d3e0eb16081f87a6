#!/usr/bin/env bash
# import_bench.sh [N] [LAYOUT]: time `sqlitefilter import` of an N-line plain
# list (default 10000000) into a new database of LAYOUT (default per-type),
# pinned to one core, and print rows/min and peak RSS.
# Data goes to $BENCH_DIR (default /tmp/sqlitefilter-tooling-bench); nothing is kept in
# the repository.
set -euo pipefail
n=${1:-10000000}; layout=${2:-per-type}
dir=${BENCH_DIR:-/tmp/sqlitefilter-tooling-bench}; mkdir -p "$dir"
root=$(cd "$(dirname "$0")/../.." && pwd)
list=$dir/list-$n.txt
[ -s "$list" ] || "$root/test/scripts/genlist.sh" "$n" "$list"
go build -o "$dir/sqlitefilter" "$root/cmd/sqlitefilter"
db=$dir/import-$n-$layout.db
rm -f "$db" "$db-wal" "$db-shm"
"$dir/sqlitefilter" init "$db" --layout "$layout"
start=$(date +%s.%N)
/usr/bin/time -f "peak RSS %M KB" -o "$dir/time.txt" taskset -c 1 "$dir/sqlitefilter" import "$db" --table block_wildcard "$list"
end=$(date +%s.%N)
cat "$dir/time.txt"
awk -v n="$n" -v s="$start" -v e="$end" 'BEGIN { printf "%d rows in %.1f s: %.2f M rows/min\n", n, e - s, n / (e - s) * 60 / 1e6 }'
ls -l "$db" "$db-wal" 2>/dev/null || true
