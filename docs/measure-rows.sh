#!/bin/sh
# Bytes per row of a per-type WITHOUT ROWID table (docs/operator-guide.md,
# "Sizing"): 1 M random names of two lengths, inserted in random order, then
# packed by VACUUM. Needs the sqlite3 CLI; works in a temporary directory.
set -eu
rows=${1:-1000000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# "a b": names are hex(a bytes).hex(b bytes).tld, tld one of com net org co.uk.
for spec in "3 5" "6 10"; do
    set -- $spec
    db="$dir/rows.db"
    rm -f "$db"
    sqlite3 "$db" >/dev/null <<SQL
PRAGMA journal_mode=DELETE;
CREATE TABLE block_exact (Domain TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT OR IGNORE INTO block_exact
SELECT lower(hex(randomblob($1))) || '.' || lower(hex(randomblob($2))) || '.' ||
       CASE i % 4 WHEN 0 THEN 'com' WHEN 1 THEN 'net' WHEN 2 THEN 'org' ELSE 'co.uk' END
FROM n;
SQL
    n=$(sqlite3 "$db" "SELECT count(*) FROM block_exact")
    len=$(sqlite3 "$db" "SELECT round(avg(length(Domain)), 1) FROM block_exact")
    random=$(stat -c %s "$db")
    sqlite3 "$db" "VACUUM"
    packed=$(stat -c %s "$db")
    awk -v n="$n" -v len="$len" -v r="$random" -v p="$packed" 'BEGIN {
        printf "%d rows, names %.1f chars: random order %.1f B/row (%.1f M rows/GB), after VACUUM %.1f B/row (%.1f M rows/GB)\n",
            n, len, r / n, 1e9 / (r / n) / 1e6, p / n, 1e9 / (p / n) / 1e6 }'
done
