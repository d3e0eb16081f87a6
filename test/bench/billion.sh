#!/usr/bin/env bash
# One node, ROWS rows (default a billion): the figures of "A billion rows on
# one node" in docs/operator-guide.md. Generates the per-type database once
# (benchtool gen; ~38 GB and ~25 min at 1 G rows on this project's machine),
# then, with the server pinned to core SUT_CPU and dnsperf and the upstream
# to LOAD_CPU:
#   filter:   CoreDNS + sqlitefilter + forward: time to ready (/ready 200,
#             which waits for the Bloom filter's first build), QPS in the
#             first FIRST s after ready on each query file (Zipf-skewed and
#             distinct names), the Bloom filter's build time and size
#   steady:   ROUNDS paired rounds, each running CoreDNS + forward alone (no
#             filter; started beside it once ready) then the filter server
#             on each query file, with the median ratio to forward; RssAnon
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
ROUNDS=${ROUNDS:-3}                       # paired steady rounds (forward, filter)
PORT=5310 UPORT=5311 RPORT=5312 FPORT=5313 FRPORT=5314 ADDR=127.0.0.1
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
qps() { # port file seconds -> QPS
	local f; f=$OUT/dnsperf-$1-$(basename "$2")-$(date +%s%N).txt
	"${LOAD[@]}" dnsperf -s "$ADDR" -p "$1" -d "$2" -l "$3" $DNSPERF_ARGS > "$f" 2>&1
	awk '/Queries per second/{printf "%.0f", $4}' "$f"
}
serve() { # name port ready-port corefile-body -> PID in SRV
	printf '.:%s {\n    bind %s\n    ready %s:%s\n%s\n    forward . %s:%s\n}\n' "$2" "$ADDR" "$ADDR" "$3" "$4" "$ADDR" "$UPORT" > "$OUT/$1.Corefile"
	T0=$(date +%s%N)
	"${SUT[@]}" "$BIN/coredns" -conf "$OUT/$1.Corefile" > "$OUT/$1.log" 2>&1 &
	SRV=$!; PIDS+=("$SRV")
}
until_ready() { # ready-port -> seconds from start to /ready 200 (which waits for the Bloom filter)
	local end=$(($(date +%s) + READY_TIMEOUT))
	while [ "$(date +%s)" -lt "$end" ]; do
		curl -fs -o /dev/null "http://$ADDR:$1/ready" && { echo "($(date +%s%N) - $T0) / 1000000000" | bc -l | xargs printf '%.3f'; return; }
		sleep 0.01
	done; echo timeout
}

serve filter "$PORT" "$RPORT" "    sqlitefilter $DB {
        bloom_max_memory $BLOOM
    }"
FILTER=$SRV
ready_s=$(until_ready "$RPORT")
first_zipf=$(qps "$PORT" "$ZIPF" "$FIRST"); first_distinct=$(qps "$PORT" "$DISTINCT" "$FIRST"); first_anon=$(anon "$FILTER")
log "filter: ready ${ready_s}s; first ${FIRST}s: zipf $first_zipf qps, distinct $first_distinct qps"
for i in $(seq $((BLOOM_TIMEOUT * 10))); do grep -q 'Bloom filter ready\|Bloom filter not built' "$OUT/filter.log" && break; sleep 0.1; done
bloom=$(grep -o 'Bloom filter [^"]*' "$OUT/filter.log" | head -1)
log "$bloom"
serve forward "$FPORT" "$FRPORT" ""
FWD=$SRV
until_ready "$FRPORT" > /dev/null
echo -e "round\tfile\tforward\tfilter\tratio" > "$OUT/steady.tsv"
for r in $(seq "$ROUNDS"); do
	for q in "$ZIPF" "$DISTINCT"; do
		f=$(qps "$FPORT" "$q" "$DURATION"); x=$(qps "$PORT" "$q" "$DURATION")
		printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$(basename "$q" .txt)" "$f" "$x" "$(echo "$x / $f" | bc -l | xargs printf '%.2f')" >> "$OUT/steady.tsv"
		log "round $r $(basename "$q"): forward $f, filter $x qps"
	done
done
steady_anon=$(anon "$FILTER"); fwd_anon=$(anon "$FWD")
median() { awk -F'\t' -v f="$1" -v c="$2" '$2==f{print $c}' "$OUT/steady.tsv" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

{
	echo "date: $(date -Is)  kernel: $(uname -r)  cpus: $(nproc)  commit: $(git -C "$ROOT" rev-parse --short HEAD)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "rows: $ROWS  file: $bytes bytes ($(echo "$bytes / $ROWS" | bc -l | xargs printf '%.1f') B/row)  generated in: $(cat "$DATA/gen_s" 2>/dev/null || echo '?') s"
	echo "ready (/ready 200): ${ready_s} s   $bloom"
	echo "first ${FIRST} s after ready: zipf $first_zipf qps, distinct $first_distinct qps (RssAnon $first_anon MB)"
	printf 'steady, median of %s rounds: zipf forward %s filter %s (x fwd %s); distinct forward %s filter %s (x fwd %s)\n' "$ROUNDS" \
		"$(median zipf 3)" "$(median zipf 4)" "$(median zipf 5)" "$(median distinct 3)" "$(median distinct 4)" "$(median distinct 5)"
	echo "RssAnon: filter $steady_anon MB, forward $fwd_anon MB"
	cat "$OUT/steady.tsv"
} | tee "$OUT/table.txt"
