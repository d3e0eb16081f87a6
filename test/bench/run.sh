#!/usr/bin/env bash
# Load benchmark of sqlitefilter against CoreDNS without a filter and CoreDNS
# `hosts`, side by side in one run (see README.md beside this file):
#   (a) forward: CoreDNS + forward, no filter
#   (b) filter:N: CoreDNS + sqlitefilter + forward, N rows (SIZES)
#   (c) hosts:N: CoreDNS + hosts with the same HOSTS_SIZE names + forward
#   (d) groups:N: (b) over the same rows in 64 lists, with 10 client groups
#       (GROUPS_SIZES; groups_db.sh: every row in one list, TWO_LISTS % of
#       them in a second): the verdicts of (b), the cost of lists
#   (e) nocheck:N: (b) with answer_check off (NOCHECK_SIZES): with
#       UPSTREAM_CNAME, the cost of checking the answers is (b) against (e)
# The server under test is pinned to core SUT_CPU, dnsperf and the loopback
# upstream to LOAD_CPU. Every case runs ROUNDS times, in an order rotated each
# round, and ratios are taken against the forward run of the same round.
#
#   test/bench/run.sh
#   SIZES="1000000 10000000" ROUNDS=5 DURATION=10 test/bench/run.sh
#
# Only loopback traffic. Every process started here is stopped by its PID on
# exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${WORK:-/tmp/sqlitefilter-bench}     # binaries, data (~40 B per row), results
SIZES=${SIZES:-"1000000 10000000 100000000"}
HOSTS_SIZE=${HOSTS_SIZE-1000000}          # '' = no hosts case
GROUPS_SIZES=${GROUPS_SIZES:-}             # sizes of SIZES that also get the groups case
NOCHECK_SIZES=${NOCHECK_SIZES:-}           # sizes of SIZES that also get the case with answer_check off
export TWO_LISTS=${TWO_LISTS:-0}           # % of the groups case's rows in two lists
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}                   # measured saturation run, s
WARMUP=${WARMUP:-3}                        # unmeasured run before it, s
LAT_SECONDS=${LAT_SECONDS:-10}             # fixed-rate latency run, s (0 = none)
LAT_FRACTION=${LAT_FRACTION:-80}           # ... at this % of forward's QPS
LAT_QPS=${LAT_QPS:-}                       # ... or at this rate
NQ=${NQ:-1000000}                          # lines per query file
NICE=${NICE:--19}                          # shields the measured processes on a shared machine ('' = off)
SUT_CPU=${SUT_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
FILTER_OPTS=${FILTER_OPTS:-}               # extra sqlitefilter options, e.g. "pool 4; cache_size 0"
UPSTREAM_CNAME=${UPSTREAM_CNAME:-0}        # % of names the upstream answers with a 2-step CNAME chain
DNSPERF_ARGS=${DNSPERF_ARGS:--c 4 -q 100 -t 2}
BLOOM_TIMEOUT=${BLOOM_TIMEOUT:-900}        # s to wait for the Bloom filter before measuring
PORT=5300
UPORT=5301
ADDR=127.0.0.1

BIN=$WORK/bin
DATA=$WORK/data
OUT=$WORK/run-$(date +%Y%m%d-%H%M%S)
mkdir -p "$BIN" "$DATA" "$OUT"
RAW=$OUT/raw.tsv
# shellcheck source=lib.sh
source "$ROOT/test/bench/lib.sh"

# ---------------------------------------------------------------- setup
log "building CoreDNS with sqlitefilter and benchtool"
(cd "$ROOT" && go build -o "$BIN/coredns" ./build/coredns && go build -o "$BIN/benchtool" ./test/bench/benchtool &&
	go build -o "$BIN/sqlitefilter" ./cmd/sqlitefilter) || die "build failed"

# data: the database and the query file of each size, the hosts file of HOSTS_SIZE
declare -A GEN_S=()
for n in $SIZES $HOSTS_SIZE; do
	[ "$n" = 0 ] && continue
	db=$DATA/rules-$n.db
	if [ ! -s "$db" ] || [ ! -s "$DATA/queries-$n.txt" ]; then
		rm -f "$db" "$db-wal" "$db-shm"
		log "generating $n rows"
		t0=$(date +%s.%N)
		"$BIN/benchtool" gen -rows "$n" -db "$db" -queries "$DATA/queries-$n.txt" -nq "$NQ"
		GEN_S[$n]=$(echo "$(date +%s.%N) - $t0" | bc)
	fi
done
for n in $GROUPS_SIZES; do
	[ -s "$DATA/rules-$n-groups-$TWO_LISTS.db" ] || { log "adding 64 lists and 10 groups to $n rows"; "$ROOT/test/bench/groups_db.sh" "$DATA/rules-$n.db" "$DATA/rules-$n-groups-$TWO_LISTS.db" "$BIN/sqlitefilter" "$BIN/benchtool"; }
done
[ -z "$HOSTS_SIZE" ] || [ -s "$DATA/hosts-$HOSTS_SIZE" ] || "$BIN/benchtool" gen -rows "$HOSTS_SIZE" -hosts "$DATA/hosts-$HOSTS_SIZE"

# ---------------------------------------------------------------- cases
corefile() { # case size -> path
	local f=$OUT/$1-$2.Corefile
	{
		echo ".:$PORT {"
		echo "    bind $ADDR"
		case $1 in
		filter|groups|nocheck) db=$DATA/rules-$2.db; [ "$1" = groups ] && db=$DATA/rules-$2-groups-$TWO_LISTS.db
			printf '    sqlitefilter %s {\n' "$db"
			[ -n "$FILTER_OPTS" ] && tr ';' '\n' <<< "$FILTER_OPTS" | sed 's/^ */        /'
			[ "$1" = nocheck ] && echo "        answer_check off"
			echo "    }" ;;
		hosts) printf '    hosts %s {\n        no_reverse\n        fallthrough\n    }\n' "$DATA/hosts-$2" ;;
		esac
		echo "    forward . $ADDR:$UPORT"
		echo "}"
	} > "$f"
	echo "$f"
}
QSIZE=${HOSTS_SIZE:-${SIZES%% *}}          # the query file of forward and hosts
queries() { case $1 in filter|groups|nocheck) echo "$DATA/queries-$2.txt" ;; *) echo "$DATA/queries-$QSIZE.txt" ;; esac; }

SRV=
start_server() { # case size dir -> sets SRV, writes the seconds to ready into dir/ready
	local t0 conf; conf=$(corefile "$1" "$2")
	t0=$(date +%s%N)
	"${PRE_SUT[@]}" "$BIN/coredns" -conf "$conf" -quiet > "$3/server.log" 2>&1 &
	SRV=$!; PIDS+=("$SRV")
	local probe; probe=$("$BIN/benchtool" probe -rows "$([ "$1" = forward ] && echo "$QSIZE" || echo "$2")")
	if [ "$1" = forward ]; then
		# nothing is blocked: ready when it answers at all
		local i; for i in $(seq 500); do
			dig @"$ADDR" -p "$PORT" +tries=1 +time=1 +short "$probe" A 2>/dev/null | grep -q . && break; sleep 0.01
		done
		echo "($(date +%s%N) - $t0) / 1000000000" | bc -l | xargs printf '%.3f\n' > "$3/ready"
	else
		"$BIN/benchtool" ready -addr "$ADDR:$PORT" -name "$probe" -since "$t0" -timeout 600s > "$3/ready"
	fi
}
wait_bloom() { # dir -> seconds the filter took to build, from the server log
	local i
	for i in $(seq $((BLOOM_TIMEOUT * 10))); do
		# Go durations: 852ms, 5.046s, 1m2.474s
		grep -q 'Bloom filter ready' "$1/server.log" && { sed -n 's/.*built in \([0-9hms.]*\).*/\1/p' "$1/server.log" | head -1 |
			awk '{d = $1; t = 0; if (d ~ /ms$/) { sub(/ms$/, "", d); print d / 1000; exit }
				if (d ~ /h/) { split(d, a, "h"); t += a[1] * 3600; d = a[2] }
				if (d ~ /m/) { split(d, a, "m"); t += a[1] * 60; d = a[2] }
				sub(/s$/, "", d); printf "%.3f\n", t + d }'; return; }
		grep -q 'Bloom filter not built' "$1/server.log" && { echo off; return; }
		sleep 0.1
	done
	echo timeout
}
BLOOM_ON=1; grep -Eq 'bloom_max_memory +0( |;|$)' <<< "$FILTER_OPTS" && BLOOM_ON=0
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
status_kb() { awk -v k="$2" '$1==k":"{print $2}' "/proc/$1/status"; }

echo -e "case\tsize\tround\tqps\tmean_ms\tlost\tready_s\tbloom_s\trss_mb\tanon_mb\tcpu_us_per_q\tpss_mb" > "$RAW"
measure() { # case size round
	local dir=$OUT/$1-$2-r$3; mkdir -p "$dir"
	local ready bloom=- qf; qf=$(queries "$1" "$2")
	start_server "$1" "$2" "$dir" || { log "$1 $2 not ready"; stop "$SRV"; return 1; }
	ready=$(cat "$dir/ready")
	[ "$1" != forward ] && [ "$1" != hosts ] && [ "$BLOOM_ON" = 1 ] && bloom=$(wait_bloom "$dir")
	"${PRE_LOAD[@]}" dnsperf -s "$ADDR" -p "$PORT" -d "$qf" -l "$WARMUP" $DNSPERF_ARGS > "$dir/warmup.txt" 2>&1
	local c0 c1; c0=$(cpu_ticks "$SRV")
	"${PRE_LOAD[@]}" dnsperf -s "$ADDR" -p "$PORT" -d "$qf" -l "$DURATION" $DNSPERF_ARGS > "$dir/dnsperf.txt" 2>&1
	c1=$(cpu_ticks "$SRV")
	# VmRSS counts the database's mapped pages once per pooled connection
	# (each maps the file); RssAnon is the process's own memory, page cache
	# and mappings not counted; Pss shares mapped pages out fairly.
	local rss anon pss; rss=$(status_kb "$SRV" VmRSS); anon=$(status_kb "$SRV" RssAnon)
	pss=$(awk '$1=="Pss:"{print $2}' "/proc/$SRV/smaps_rollup")
	stop "$SRV"
	local qps mean lost
	qps=$(awk '/Queries per second/{printf "%.0f", $4}' "$dir/dnsperf.txt")
	mean=$(awk '/Average Latency/{printf "%.3f", $4*1000}' "$dir/dnsperf.txt")
	lost=$(awk '/Queries lost/{print $3}' "$dir/dnsperf.txt")
	local cpuus; cpuus=$(echo "($c1 - $c0) * 1000000 / $(getconf CLK_TCK) / ($qps * $DURATION)" | bc -l | xargs printf '%.1f')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$qps" "$mean" "$lost" "$ready" "$bloom" $((rss / 1024)) $((anon / 1024)) "$cpuus" $((pss / 1024)) >> "$RAW"
	log "$(printf '%-7s %-10s r%s %7s qps  mean %s ms  ready %ss  bloom %ss  rss %s MB (anon %s)  cpu %s us/q' "$1" "$2" "$3" "$qps" "$mean" "$ready" "$bloom" $((rss / 1024)) $((anon / 1024)) "$cpuus")"
}

{
	echo "date: $(date -Is)  kernel: $(uname -r)  cpus: $(nproc)  mem: $(free -g | awk '/Mem:/{print $2}') GiB"
	echo "cpu: $(lscpu | awk -F: '/Model name/{gsub(/^ +/,"",$2); print $2}')"
	echo "go: $(go version | awk '{print $3}')  dnsperf: $(dnsperf -h 2>&1 | awk '/Version/{print $2}')  commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
	echo "settings: SIZES='$SIZES' HOSTS_SIZE=$HOSTS_SIZE ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP LAT_SECONDS=$LAT_SECONDS NICE=$NICE FILTER_OPTS='$FILTER_OPTS' UPSTREAM_CNAME=$UPSTREAM_CNAME GROUPS_SIZES='$GROUPS_SIZES' NOCHECK_SIZES='$NOCHECK_SIZES' DNSPERF_ARGS='$DNSPERF_ARGS'"
	for n in "${!GEN_S[@]}"; do echo "generated $n rows + queries in ${GEN_S[$n]} s ($(du -m "$DATA/rules-$n.db" | cut -f1) MB)"; done
} | tee "$OUT/env.txt" >&2

"${PRE_LOAD[@]}" "$BIN/benchtool" upstream -addr "$ADDR:$UPORT" -cname "$UPSTREAM_CNAME" > "$OUT/upstream.log" 2>&1 &
UP=$!; PIDS+=("$UP")
sleep 0.5
kill -0 "$UP" || die "upstream did not start, see $OUT/upstream.log"

CASES=(forward:-)
for n in $SIZES; do CASES+=("filter:$n"); done
for n in $GROUPS_SIZES; do CASES+=("groups:$n"); done
for n in $NOCHECK_SIZES; do CASES+=("nocheck:$n"); done
[ -z "$HOSTS_SIZE" ] || CASES+=("hosts:$HOSTS_SIZE")
for r in $(seq "$ROUNDS"); do
	off=$(( (r - 1) % ${#CASES[@]} ))
	for c in "${CASES[@]:off}" "${CASES[@]:0:off}"; do
		measure "${c%%:*}" "${c#*:}" "$r" || true
	done
done

# ---------------------------------------------------------------- latency at a fixed rate
FWD_QPS=$(awk -F'\t' '$1=="forward"{print $4}' "$RAW" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
RATE=${LAT_QPS:-$((FWD_QPS * LAT_FRACTION / 100))}
LAT=$OUT/latency.tsv
echo -e "case\tsize\trate\tqps\tmean_ms\tp50_ms\tp99_ms\tlost" > "$LAT"
log "latency runs at $RATE qps (forward's median QPS $FWD_QPS)"
for c in "${CASES[@]}"; do
	[ "$LAT_SECONDS" -gt 0 ] || break
	set -- "${c%%:*}" "${c#*:}"
	dir=$OUT/$1-$2-lat; mkdir -p "$dir"
	start_server "$1" "$2" "$dir" || { stop "$SRV"; continue; }
	[ "$1" != forward ] && [ "$1" != hosts ] && [ "$BLOOM_ON" = 1 ] && wait_bloom "$dir" > /dev/null
	qf=$(queries "$1" "$2")
	"${PRE_LOAD[@]}" dnsperf -s "$ADDR" -p "$PORT" -d "$qf" -l "$WARMUP" -Q "$RATE" $DNSPERF_ARGS > /dev/null 2>&1
	"${PRE_LOAD[@]}" dnsperf -s "$ADDR" -p "$PORT" -d "$qf" -l "$LAT_SECONDS" -Q "$RATE" $DNSPERF_ARGS -v > "$dir/latency.txt" 2>&1
	stop "$SRV"
	read -r p50 p99 < <(awk '/^> /{print $NF*1000}' "$dir/latency.txt" | sort -g | awk '{a[NR]=$1} END{printf "%.3f %.3f\n", a[int(NR*0.5)], a[int(NR*0.99)]}')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$RATE" "$(awk '/Queries per second/{printf "%.0f", $4}' "$dir/latency.txt")" \
		"$(awk '/Average Latency/{printf "%.3f", $4*1000}' "$dir/latency.txt")" "$p50" "$p99" "$(awk '/Queries lost/{print $3}' "$dir/latency.txt")" >> "$LAT"
	log "latency $1 $2: p50 $p50 ms  p99 $p99 ms"
done

# ---------------------------------------------------------------- table and targets
"$ROOT/test/bench/table.sh" "$RAW" "$LAT" | tee "$OUT/table.txt"
log "raw results in $OUT"
