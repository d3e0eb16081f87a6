#!/usr/bin/env bash
# groups_db.sh SRC DST SQLITEFILTER: DST is SRC (a database made by `benchtool
# gen`) with 64 lists and 10 client groups, for the load benchmark's groups
# case: every row stays in `default` and joins one of the 63 other lists
# (spread by a hash of its key, so row masks reach bit 63: the largest
# integers SQLite stores), and 10 groups name 10 client prefixes, one of them
# 127.0.0.1/32 (where dnsperf asks from) with 32 lists. Every row applies to
# every client through `default`, so the verdicts, and the work the upstream
# and the filter do per query, are those of SRC: the difference in QPS is
# what lists and groups cost.
set -euo pipefail
src=$1 dst=$2 sf=$3
rm -f "$dst" "$dst-wal" "$dst-shm"
sqlite3 "$src" "VACUUM INTO '$dst'"
"$sf" upgrade "$dst" > /dev/null
{
	echo "BEGIN;"
	for i in $(seq 1 63); do echo "INSERT INTO sqlitefilter_lists (id, name) VALUES ($i, 'list$i');"; done
	for t in block_exact block_wildcard fqdn_dns_allow fqdn_dns_block; do
		echo "UPDATE $t SET lists = 1 | (1 << (1 + (length(Domain) * 7 + unicode(substr(Domain, 2, 1)) + unicode(substr(Domain, -2, 1))) % 63));"
	done
	echo "UPDATE domain_alias SET lists = 1 | (1 << (1 + length(Source_Domain) % 63));"
	for g in $(seq 0 8); do
		echo "INSERT INTO sqlitefilter_groups (name, lists) VALUES ('group$g', $(( (1 << (g + 20)) | 1 )));"
		echo "INSERT INTO sqlitefilter_group_clients VALUES ('10.$g.0.0/16', 'group$g');"
	done
	# 127.0.0.1's group: default and lists 1-31.
	echo "INSERT INTO sqlitefilter_groups (name, lists) VALUES ('bench', $(( (1 << 32) - 1 )));"
	echo "INSERT INTO sqlitefilter_group_clients VALUES ('127.0.0.1/32', 'bench');"
	echo "COMMIT;"
} | sqlite3 "$dst"
sqlite3 "$dst" "PRAGMA journal_mode=WAL" > /dev/null
