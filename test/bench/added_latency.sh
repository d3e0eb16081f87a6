#!/usr/bin/env bash
# The latency sqlitefilter adds to each query, measured inside the server:
# the plugin's own lookup_duration_seconds histogram over a fixed-rate dnsperf
# run, server pinned to one core and dnsperf plus the upstream to the other.
# End-to-end p99 at 80 % of one core is mostly queueing and moves by
# milliseconds between runs here (README.md), so this isolates the filter's
# share of it.
#
#   test/bench/added_latency.sh                  # 10 M rows at 30000 qps
#   ROWS=1000000 RATE=25000 SECONDS_=20 test/bench/added_latency.sh
#
# Only loopback traffic; every process started here is stopped on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-/tmp/sqlitefilter-bench}
ROWS=${ROWS:-10000000}
RATE=${RATE:-30000}          # 80 % of forward's median saturation QPS in README.md
SECONDS_=${SECONDS_:-15}
FILTER_OPTS=${FILTER_OPTS:-}
SUT_CPU=${SUT_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
PORT=${PORT:-15600}
BIN=$WORK/bin DATA=$WORK/data
mkdir -p "$BIN" "$DATA"

command -v dnsperf > /dev/null || { apt-get update -qq && apt-get install -y -qq dnsperf > /dev/null; }
(cd "$ROOT" && go build -o "$BIN/coredns" ./build/coredns && go build -o "$BIN/benchtool" ./test/bench/benchtool)
db=$DATA/rules-$ROWS.db queries=$DATA/queries-$ROWS.txt
if [ ! -s "$db" ] || [ ! -s "$queries" ]; then
	rm -f "$db" "$db-wal" "$db-shm"
	"$BIN/benchtool" gen -rows "$ROWS" -db "$db" -queries "$queries" -nq 1000000
fi

PIDS=()
trap 'kill "${PIDS[@]}" 2> /dev/null || true' EXIT
conf=$(mktemp)
cat > "$conf" <<CONF
.:$PORT {
    bind 127.0.0.1
    prometheus 127.0.0.1:$((PORT + 2))
    sqlitefilter $db {
        $FILTER_OPTS
    }
    forward . 127.0.0.1:$((PORT + 1))
}
CONF
taskset -c "$LOAD_CPU" "$BIN/benchtool" upstream -addr "127.0.0.1:$((PORT + 1))" > /dev/null 2>&1 &
PIDS+=($!)
log=$(mktemp)
taskset -c "$SUT_CPU" "$BIN/coredns" -conf "$conf" > "$log" 2>&1 &
PIDS+=($!)
for _ in $(seq 600); do grep -q 'Bloom filter ready\|Bloom filter not built' "$log" && break; sleep 1; done
grep 'Bloom filter' "$log" | tail -1

scrape() { curl -s "127.0.0.1:$((PORT + 2))/metrics" | awk '/^coredns_sqlitefilter_lookup_duration_seconds_bucket/ {
	match($0, /le="[^"]*"/); print substr($0, RSTART + 4, RLENGTH - 5), $NF }'; }
taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$PORT" -d "$queries" -l 3 -Q "$RATE" -c 4 -q 100 -t 2 > /dev/null 2>&1
before=$(scrape)
taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$PORT" -d "$queries" -l "$SECONDS_" -Q "$RATE" -c 4 -q 100 -t 2 2>&1 |
	grep -E 'Queries per second|Average Latency|Queries lost'
after=$(scrape)
join <(echo "$before" | sort -k1,1) <(echo "$after" | sort -k1,1) | sort -g -k1,1 | awk '
	{ le[NR] = $1; n[NR] = $3 - $2 } END {
		total = n[NR]
		printf "decisions: %d\n%-10s %s\n", total, "<= le(s)", "share"
		for (i = 1; i <= NR; i++) printf "%-10s %.5f\n", le[i], n[i] / total
		for (i = 1; i <= NR; i++) if (n[i] >= 0.99 * total) { printf "p99 of the decision <= %s s\n", le[i]; break }
	}'
