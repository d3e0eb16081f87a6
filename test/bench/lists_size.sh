#!/usr/bin/env bash
# lists_size.sh: what lists cost on disk. For ROWS rows (default 100000) of
# `benchtool gen` (per-type, half block_exact, half block_wildcard), the
# bytes per row of the file without lists and of the same rows in 64 lists
# (groups_db.sh: every row in one list, spread by a hash of its key; then
# with TWO_PCT % of the rows, default 10, in a second list), each file after
# VACUUM, and the difference per row against the file without lists.
# Data goes to $WORK (default /tmp/sqlitefilter-lists-size).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rows=${ROWS:-100000} two=${TWO_PCT:-10}
dir=${WORK:-/tmp/sqlitefilter-lists-size}; mkdir -p "$dir"
(cd "$root" && go build -o "$dir/sqlitefilter" ./cmd/sqlitefilter && go build -o "$dir/benchtool" ./test/bench/benchtool)
src=$dir/rules-$rows.db
[ -s "$src" ] || "$dir/benchtool" gen -rows "$rows" -db "$src"
vacuumed() { # DB: in rollback-journal mode, vacuumed, so that its size is all in one file
	sqlite3 "$1" "PRAGMA journal_mode=DELETE" > /dev/null
	sqlite3 "$1" "VACUUM"
}
none=$dir/none-$rows.db; rm -f "$none"; sqlite3 "$src" "VACUUM INTO '$none'"; vacuumed "$none"
one=$dir/one-$rows.db; TWO_LISTS=0 "$root/test/bench/groups_db.sh" "$src" "$one" "$dir/sqlitefilter"; vacuumed "$one"
both=$dir/two-$rows.db; TWO_LISTS=$two "$root/test/bench/groups_db.sh" "$src" "$both" "$dir/sqlitefilter"; vacuumed "$both"
base=$(stat -c %s "$none")
report() { # LABEL DB
	awk -v l="$1" -v s="$(stat -c %s "$2")" -v b="$base" -v n="$rows" \
		'BEGIN { printf "%-34s %12d bytes  %6.2f B/row  %+5.2f B/row\n", l, s, s / n, (s - b) / n }'
}
echo "rows: $rows"
report "no lists" "$none"
report "64 lists, one each" "$one"
report "64 lists, $two % of rows in two" "$both"
