#!/usr/bin/env bash
# One node, ROWS rows (default a billion): the figures of "A billion rows on
# one node" in docs/operator-guide.md. Generates the per-type database once
# (benchtool gen; ~38 GB and ~25 min at 1 G rows on this project's machine),
# then, with the server pinned to core SUT_CPU and dnsperf and the upstream
# to LOAD_CPU:
#   forward:  CoreDNS + forward, no filter, on the Zipf and the distinct names
#   filter:   CoreDNS + sqlitefilter + forward: time to ready (/ready 200 and
#             the first blocked answer), QPS in the first 5 s after ready on
#             each query file, the Bloom filter's build time and size, then
#             steady QPS on each, and RssAnon at each step
# Prints a table; raw output in $WORK/billion-<time>/. Delete the data after
# with `rm -r $WORK/data-$ROWS` (KEEP_DATA= does it at the end).
#
#   test/bench/billion.sh
#   ROWS=100000000 test/bench/billion.sh
#
# Only loopback traffic; every process started here is stopped by its PID.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROWS=${ROWS:-1000000000}
WORK=${WORK:-/tmp/sqlitefilter-bench}
DATA=${DATA:-$WORK/data-$ROWS}
KEEP_DATA=${KEEP_DATA-1}                 # '' = delete the data at the end
FIRST=${FIRST:-5}                         # s measured right after ready
DURATION=${DURATION:-10}                  # s of each steady run
BLOOM=${BLOOM:-2G}                        # bloom_max_memory: 10 bits per row must fit
BLOOM_TIMEOUT=${BLOOM_TIMEOUT:-3600}
READY_TIMEOUT=${READY_TIMEOUT:-3600}      # s; ready waits for the Bloom filter's first build
SUT_CPU=${SUT_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
DNSPERF_ARGS=${DNSPERF_ARGS:--c 4 -q 100 -t 2}
PORT=5310 UPORT=5311 RPORT=5312 ADDR=127.0.0.1
BIN=$WORK/bin
OUT=$WORK/billion-$(date +%Y%m%d-%H%M%S)
mkdir -p "$BIN" "$DATA" "$OUT"
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
PIDS=()
stop() { kill -TERM "$1" 2>/dev/null || return 0; local i; for i in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done; kill -KILL "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
cleanup() { local p; for p in "${PIDS[@]}"; do stop "$p"; done; [ -n "$KEEP_DATA" ] || rm -rf "$DATA"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
SUT=(taskset -c "$SUT_CPU")
LOAD=(taskset -c "$LOAD_CPU")
command -v dnsperf > /dev/null || { apt-get update -qq && apt-get install -y -qq dnsperf > /dev/null; }

(cd "$ROOT" && go build -o "$BIN/coredns" ./build/coredns && go build -o "$BIN/benchtool" ./test/bench/benchtool)
DB=$DATA/rules.db ZIPF=$DATA/zipf.txt DISTINCT=$DATA/distinct.txt
if [ ! -s "$DB" ]; then
	df -h "$DATA" >&2
	log "generating $ROWS rows into $DB"
	t0=$(date +%s.%N)
	nice "$BIN/benchtool" gen -rows "$ROWS" -db "$DB" -queries "$ZIPF"
	echo "$(date +%s.%N) - $t0" | bc > "$DATA/gen_s"
fi
[ -s "$DISTINCT" ] || "$BIN/benchtool" gen -rows "$ROWS" -distinct "$DISTINCT"
bytes=$(stat -c %s "$DB")

"${LOAD[@]}" "$BIN/benchtool" upstream -addr "$ADDR:$UPORT" > "$OUT/upstream.log" 2>&1 &
PIDS+=($!)
sleep 0.5

anon() { awk '$1=="RssAnon:"{printf "%d", $2/1024}' "/proc/$1/status"; }
qps() { # file seconds -> QPS
	"${LOAD[@]}" dnsperf -s "$ADDR" -p "$PORT" -d "$1" -l "$2" $DNSPERF_ARGS > "$OUT/dnsperf-$(basename "$1")-$(date +%s%N).txt" 2>&1
	awk '/Queries per second/{printf "%.0f", $4}' "$(ls -t "$OUT"/dnsperf-* | head -1)"
}
serve() { # name corefile-body -> PID in SRV
	printf '.:%s {\n    bind %s\n    ready %s:%s\n%s\n    forward . %s:%s\n}\n' "$PORT" "$ADDR" "$ADDR" "$RPORT" "$2" "$ADDR" "$UPORT" > "$OUT/$1.Corefile"
	T0=$(date +%s%N)
	"${SUT[@]}" "$BIN/coredns" -conf "$OUT/$1.Corefile" > "$OUT/$1.log" 2>&1 &
	SRV=$!; PIDS+=("$SRV")
}
until_ready() { # -> seconds from start to /ready 200 (which waits for the Bloom filter)
	local end=$(($(date +%s) + READY_TIMEOUT))
	while [ "$(date +%s)" -lt "$end" ]; do
		curl -fs -o /dev/null "http://$ADDR:$RPORT/ready" && { echo "($(date +%s%N) - $T0) / 1000000000" | bc -l | xargs printf '%.3f'; return; }
		sleep 0.01
	done; echo timeout
}

serve forward ""
until_ready > /dev/null
fwd_zipf=$(qps "$ZIPF" "$DURATION"); fwd_distinct=$(qps "$DISTINCT" "$DURATION"); fwd_anon=$(anon "$SRV")
stop "$SRV"
log "forward: zipf $fwd_zipf qps, distinct $fwd_distinct qps"

serve filter "    sqlitefilter $DB {
        bloom_max_memory $BLOOM
    }"
ready_s=$(until_ready)
blocked_s=$("$BIN/benchtool" ready -addr "$ADDR:$PORT" -name "$("$BIN/benchtool" probe -rows "$ROWS")" -since "$T0" -timeout 600s)
first_zipf=$(qps "$ZIPF" "$FIRST"); first_distinct=$(qps "$DISTINCT" "$FIRST"); first_anon=$(anon "$SRV")
log "filter: ready ${ready_s}s (blocked answer ${blocked_s}s); first ${FIRST}s: zipf $first_zipf qps, distinct $first_distinct qps"
for i in $(seq $((BLOOM_TIMEOUT * 10))); do grep -q 'Bloom filter ready\|Bloom filter not built' "$OUT/filter.log" && break; sleep 0.1; done
bloom=$(grep -o 'Bloom filter [^"]*' "$OUT/filter.log" | head -1)
log "$bloom"
steady_zipf=$(qps "$ZIPF" "$DURATION"); steady_distinct=$(qps "$DISTINCT" "$DURATION"); steady_anon=$(anon "$SRV")
stop "$SRV"

{
	echo "date: $(date -Is)  kernel: $(uname -r)  cpus: $(nproc)  commit: $(git -C "$ROOT" rev-parse --short HEAD)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "rows: $ROWS  file: $bytes bytes ($(echo "$bytes / $ROWS" | bc -l | xargs printf '%.1f') B/row)  generated in: $(cat "$DATA/gen_s" 2>/dev/null || echo '?') s"
	echo "ready: /ready ${ready_s} s, first blocked answer ${blocked_s} s"
	echo "$bloom"
	printf '%-26s %10s %10s %10s\n' "" zipf distinct RssAnon_MB
	printf '%-26s %10s %10s %10s\n' "forward" "$fwd_zipf" "$fwd_distinct" "$fwd_anon"
	printf '%-26s %10s %10s %10s\n' "filter, first ${FIRST} s" "$first_zipf" "$first_distinct" "$first_anon"
	printf '%-26s %10s %10s %10s\n' "filter, steady" "$steady_zipf" "$steady_distinct" "$steady_anon"
} | tee "$OUT/table.txt"
