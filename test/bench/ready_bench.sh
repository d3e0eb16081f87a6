#!/usr/bin/env bash
# From ready to fast: for each case, the QPS in the first FIRST seconds after
# the server reports ready (the ready plugin's /ready answers 200) next to its
# steady state, with Zipf-distributed names and with names each asked once
# (no cache helps), as a ratio to CoreDNS + forward in the same round; and the
# p99 latency at a fixed rate (LAT_FRACTION % of forward's saturation) with
# distinct names.
#
# Cases: forward; filter:N, one per-type file of N rows (SIZES); normalized:N,
# the same rows migrated to the normalized layout (NORM_SIZES); shards16:N,
# the same rows split into 16 shards (SHARD_SIZES); stored:N, the per-type file
# of N rows with its key filter stored in it by `sqlitefilter keyfilter`
# (STORED_SIZES), which the server reads instead of scanning the keys.
#
# The edges (EDGE_SECONDS, 0: none), distinct names, once per case and
# round: the QPS of each second after a copy of the file (every shard) is
# renamed over it (a swap), then after SIGUSR1 (a Corefile reload), the
# lowest second and the mean as a ratio to the steady state just measured.
#
# The upstream (UPSTREAM_KIND) is unbound answering every name itself when
# it is installed (about 5x the QPS of the server under test on one core),
# else benchtool's.
#
#   test/bench/ready_bench.sh
#   SIZES="1000000 10000000 100000000" STORED_SIZES="10000000 100000000" NORM_SIZES=10000000 SHARD_SIZES=10000000 ROUNDS=3 test/bench/ready_bench.sh
#
# The server is pinned to SUT_CPU, dnsperf and the loopback upstream to
# LOAD_CPU. Only loopback traffic; every process started is stopped by PID.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${WORK:-/tmp/sqlitefilter-bench}
SIZES=${SIZES:-"1000000 10000000"}
NORM_SIZES=${NORM_SIZES:-}
SHARD_SIZES=${SHARD_SIZES:-}
STORED_SIZES=${STORED_SIZES:-}
ROUNDS=${ROUNDS:-3}
FIRST=${FIRST:-5}                 # s measured right after ready
WARMUP=${WARMUP:-5}               # s between the first run and the steady one
DURATION=${DURATION:-10}          # s of the steady run
LAT_SECONDS=${LAT_SECONDS:-10}    # fixed-rate run, s (0: none)
LAT_FRACTION=${LAT_FRACTION:-25}  # % of forward's saturation
EDGE_SECONDS=${EDGE_SECONDS:-20}  # s measured after a swap and after a reload (0: none)
UPSTREAM_KIND=${UPSTREAM_KIND:-$(command -v unbound > /dev/null || [ -x /usr/sbin/unbound ] && echo unbound || echo benchtool)}
NQ=${NQ:-1000000}
SUT_CPU=${SUT_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
NICE=${NICE:--19}
DNSPERF_ARGS=${DNSPERF_ARGS:--c 4 -q 100 -t 2}
PORT=5320
UPORT=5321
RPORT=5322
ADDR=127.0.0.1

BIN=$WORK/bin
DATA=$WORK/data
OUT=$WORK/ready-$(date +%Y%m%d-%H%M%S)
mkdir -p "$BIN" "$DATA" "$OUT"
RAW=$OUT/raw.tsv
# shellcheck source=lib.sh
source "$ROOT/test/bench/lib.sh"

log "building CoreDNS with sqlitefilter, the admin command and benchtool"
(cd "$ROOT" && go build -o "$BIN/coredns" ./build/coredns && go build -o "$BIN/sqlitefilter" ./cmd/sqlitefilter &&
	go build -o "$BIN/benchtool" ./test/bench/benchtool) || die "build failed"

# ---------------------------------------------------------------- data
gen() { # rows: the per-type file and both query files
	local n=$1 db=$DATA/rules-$1.db
	if [ ! -s "$db" ] || [ ! -s "$DATA/queries-$n.txt" ] || [ ! -s "$DATA/distinct-$n.txt" ]; then
		rm -f "$db" "$db-wal" "$db-shm"
		log "generating $n rows"
		"$BIN/benchtool" gen -rows "$n" -db "$db" -queries "$DATA/queries-$n.txt" -distinct "$DATA/distinct-$n.txt" -nq "$NQ"
	fi
}
for n in $SIZES $NORM_SIZES $SHARD_SIZES $STORED_SIZES; do gen "$n"; done
copy_for_swap() { # file: a copy beside it to rename over it, made once
	[ "$EDGE_SECONDS" -gt 0 ] || return 0
	[ -s "$1.swap" ] || { log "copying $1 for the swap"; cp "$1" "$1.swap.tmp" && mv "$1.swap.tmp" "$1.swap"; }
}
for n in $NORM_SIZES; do
	[ -s "$DATA/normalized-$n.db" ] && continue
	log "migrating $n rows to the normalized layout"
	"$BIN/sqlitefilter" migrate "$DATA/rules-$n.db" "$DATA/normalized-$n.db" --layout normalized > /dev/null
done
for n in $STORED_SIZES; do
	[ -s "$DATA/rules-$n-stored.db" ] && continue
	log "storing the key filter in a copy of $n rows"
	cp "$DATA/rules-$n.db" "$DATA/rules-$n-stored.db.tmp"
	"$BIN/sqlitefilter" keyfilter "$DATA/rules-$n-stored.db.tmp" >&2
	mv "$DATA/rules-$n-stored.db.tmp" "$DATA/rules-$n-stored.db"
done
for n in $SIZES; do copy_for_swap "$DATA/rules-$n.db"; done
for n in $STORED_SIZES; do copy_for_swap "$DATA/rules-$n-stored.db"; done
for n in $NORM_SIZES; do copy_for_swap "$DATA/normalized-$n.db"; done
for n in $SHARD_SIZES; do
	d=$DATA/shards16-$n
	[ -s "$d/shard-15.db" ] && continue
	log "splitting $n rows into 16 shards"
	rm -rf "$d" && mkdir -p "$d"
	"$BIN/sqlitefilter" split "$DATA/rules-$n.db" $(for i in $(seq -w 0 15); do echo "$d/shard-$i.db"; done) > /dev/null
	# split writes rollback-journal files; serve them in WAL mode, as one file is
	for f in "$d"/shard-*.db; do sqlite3 "$f" 'PRAGMA journal_mode=WAL' > /dev/null; done
done
for n in $SHARD_SIZES; do for f in "$DATA/shards16-$n"/shard-*.db; do copy_for_swap "$f"; done; done

# ---------------------------------------------------------------- cases
db_arg() { # case size -> the sqlitefilter argument
	case $1 in
	filter) echo "$DATA/rules-$2.db" ;;
	stored) echo "$DATA/rules-$2-stored.db" ;;
	normalized) echo "$DATA/normalized-$2.db" ;;
	shards16) echo "$DATA/shards16-$2/shard-*.db" ;;
	esac
}
corefile() { # case size -> path
	local f=$OUT/$1-$2.Corefile
	{
		echo ".:$PORT {"
		echo "    bind $ADDR"
		echo "    ready $ADDR:$RPORT"
		[ "$1" = forward ] || echo "    sqlitefilter $(db_arg "$1" "$2")"
		echo "    forward . $ADDR:$UPORT"
		echo "}"
	} > "$f"
	echo "$f"
}
qfile() { # kind size
	local n=$2; [ "$n" = - ] && n=${SIZES%% *}
	case $1 in zipf) echo "$DATA/queries-$n.txt" ;; distinct) echo "$DATA/distinct-$n.txt" ;; esac
}
dnsperf_qps() { awk '/Queries per second/{printf "%.0f", $4}' "$1"; }

SRV=
start_server() { # case size dir: starts the server, writes the seconds to ready
	local t0 conf; conf=$(corefile "$1" "$2"); t0=$(date +%s%N)
	"${PRE_SUT[@]}" "$BIN/coredns" -conf "$conf" -quiet > "$3/server.log" 2>&1 &
	SRV=$!; PIDS+=("$SRV")
	"$BIN/benchtool" ready -url "http://$ADDR:$RPORT/ready" -since "$t0" -timeout 900s > "$3/ready"
}
echo -e "case\tsize\tkind\tround\tready_s\tfirst_qps\tsteady_qps\tanon_mb\tswap_min\tswap_mean\tswap_s\treload_min\treload_mean" > "$RAW"
per_second() { # dnsperf -S 1 output -> "lowest mean" of its per-second QPS
	awk '/^[0-9]+\.[0-9]+: [0-9.]+$/{q = $2 + 0; s += q; n++; if (min == "" || q < min) min = q} END{printf "%.0f %.0f", min, n ? s / n : 0}' "$1"
}
swap_files() { # case size: renames the copies over the files, as a swap does, and starts the next copies
	local f
	for f in $(db_arg "$1" "$2"); do
		rm -f "$f-wal" "$f-shm"
		mv "$f.swap" "$f"
	done
	# Copied after the measurement (the disk is shared with the server).
}
copy_again() { # case size
	local f
	for f in $(db_arg "$1" "$2"); do copy_for_swap "$f"; done
	# Written back now, not while the next case is measured (gigabytes of
	# writeback stalled its reads).
	sync
}
swapped() { # dir files: whether the server log says every file was taken up
	[ "$(grep -c 'now answering from the file in place' "$1/server.log")" -ge "$2" ]
}
reload() { # dir: SIGUSR1 under load; "reload_min reload_mean"
	kill -USR1 "$SRV"
	"${PRE_LOAD[@]}" dnsperf -s "$ADDR" -p "$PORT" -d "$2" -l "$EDGE_SECONDS" -S 1 $DNSPERF_ARGS > "$1/reload.txt" 2>&1
	per_second "$1/reload.txt"
}
edges() { # case size dir: "swap_min swap_mean swap_s reload_min reload_mean", or dashes
	[ "$EDGE_SECONDS" -gt 0 ] || { echo "- - - - -"; return; }
	# forward: CoreDNS's own reload, the baseline of the filter's
	[ "$1" = forward ] && { echo "- - - $(reload "$3" "$(qfile distinct "$2")")"; return; }
	local qf files t0 took w; qf=$(qfile distinct "$2"); files=$(for f in $(db_arg "$1" "$2"); do echo "$f"; done | wc -l)
	t0=$(date +%s%N)
	swap_files "$1" "$2"
	# The swap ends once every new file's key filter is built, which
	# yields to queries: under saturation it may last beyond the run. The
	# reload waits for it (at most 10 minutes).
	(for _ in $(seq 6000); do swapped "$3" "$files" && { date +%s%N > "$3/swapped_at"; break; }; sleep 0.1; done) &
	w=$!
	"${PRE_LOAD[@]}" dnsperf -s "$ADDR" -p "$PORT" -d "$qf" -l "$EDGE_SECONDS" -S 1 $DNSPERF_ARGS > "$3/swap.txt" 2>&1
	wait "$w"
	took=-; [ -s "$3/swapped_at" ] && took=$(echo "($(cat "$3/swapped_at") - $t0) / 1000000000" | bc -l | xargs printf '%.1f')
	read -r smin smean < <(per_second "$3/swap.txt")
	echo "$smin $smean $took $(reload "$3" "$qf")"
}
measure() { # case size kind round
	local dir=$OUT/$1-$2-$3-r$4 qf; mkdir -p "$dir"; qf=$(qfile "$3" "$2")
	start_server "$1" "$2" "$dir" || { log "$1 $2 not ready"; stop "$SRV"; return 1; }
	"${PRE_LOAD[@]}" dnsperf -s "$ADDR" -p "$PORT" -d "$qf" -l "$FIRST" $DNSPERF_ARGS > "$dir/first.txt" 2>&1
	"${PRE_LOAD[@]}" dnsperf -s "$ADDR" -p "$PORT" -d "$qf" -l "$WARMUP" $DNSPERF_ARGS > /dev/null 2>&1
	"${PRE_LOAD[@]}" dnsperf -s "$ADDR" -p "$PORT" -d "$qf" -l "$DURATION" $DNSPERF_ARGS > "$dir/steady.txt" 2>&1
	local anon; anon=$(awk '$1=="RssAnon:"{print int($2/1024)}' "/proc/$SRV/status")
	local edge="- - - - -"
	[ "$3" = distinct ] && edge=$(edges "$1" "$2" "$dir")
	stop "$SRV"
	[ "$3" = distinct ] && [ "$1" != forward ] && copy_again "$1" "$2"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$(cat "$dir/ready")" "$(dnsperf_qps "$dir/first.txt")" "$(dnsperf_qps "$dir/steady.txt")" "$anon" "$(tr ' ' '\t' <<< "$edge")" >> "$RAW"
	log "$(tail -1 "$RAW" | tr '\t' ' ')"
}

{
	echo "date: $(date -Is)  cpus: $(nproc)  commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "settings: SIZES='$SIZES' STORED_SIZES='$STORED_SIZES' NORM_SIZES='$NORM_SIZES' SHARD_SIZES='$SHARD_SIZES' ROUNDS=$ROUNDS FIRST=$FIRST WARMUP=$WARMUP DURATION=$DURATION EDGE_SECONDS=$EDGE_SECONDS NQ=$NQ UPSTREAM_KIND=$UPSTREAM_KIND DNSPERF_ARGS='$DNSPERF_ARGS'"
} | tee "$OUT/env.txt" >&2

if [ "$UPSTREAM_KIND" = unbound ]; then
	cat > "$OUT/unbound.conf" <<-EOF
	server:
	  interface: $ADDR@$UPORT
	  do-ip6: no
	  do-daemonize: no
	  use-syslog: no
	  logfile: ""
	  verbosity: 0
	  username: ""
	  chroot: ""
	  directory: "$OUT"
	  pidfile: "$OUT/unbound.pid"
	  num-threads: 1
	  access-control: 127.0.0.0/8 allow
	  module-config: "iterator"
	  local-zone: "." redirect
	  local-data: ". 60 IN A 192.0.2.1"
	  local-data: ". 60 IN AAAA 2001:db8::1"
	EOF
	"${PRE_LOAD[@]}" "$(command -v unbound || echo /usr/sbin/unbound)" -c "$OUT/unbound.conf" > "$OUT/upstream.log" 2>&1 &
else
	"${PRE_LOAD[@]}" "$BIN/benchtool" upstream -addr "$ADDR:$UPORT" > "$OUT/upstream.log" 2>&1 &
fi
PIDS+=("$!")
sleep 0.5

CASES=(forward:-)
for n in $SIZES; do CASES+=("filter:$n"); done
for n in $STORED_SIZES; do CASES+=("stored:$n"); done
for n in $NORM_SIZES; do CASES+=("normalized:$n"); done
for n in $SHARD_SIZES; do CASES+=("shards16:$n"); done
for r in $(seq "$ROUNDS"); do
	off=$(( (r - 1) % ${#CASES[@]} ))
	for c in "${CASES[@]:off}" "${CASES[@]:0:off}"; do
		for kind in zipf distinct; do measure "${c%%:*}" "${c#*:}" "$kind" "$r" || true; done
	done
done

# ---------------------------------------------------------------- latency at a fixed rate, distinct names
LAT=$OUT/latency.tsv
echo -e "case\tsize\trate\tp50_ms\tp99_ms" > "$LAT"
FWD=$(awk -F'\t' '$1=="forward" && $3=="distinct"{print $7}' "$RAW" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
RATE=$((FWD * LAT_FRACTION / 100))
for c in "${CASES[@]}"; do
	[ "$LAT_SECONDS" -gt 0 ] || break
	set -- "${c%%:*}" "${c#*:}"
	dir=$OUT/$1-$2-lat; mkdir -p "$dir"
	start_server "$1" "$2" "$dir" || { stop "$SRV"; continue; }
	qf=$(qfile distinct "$2")
	"${PRE_LOAD[@]}" dnsperf -s "$ADDR" -p "$PORT" -d "$qf" -l "$WARMUP" -Q "$RATE" $DNSPERF_ARGS > /dev/null 2>&1
	"${PRE_LOAD[@]}" dnsperf -s "$ADDR" -p "$PORT" -d "$qf" -l "$LAT_SECONDS" -Q "$RATE" $DNSPERF_ARGS -v > "$dir/latency.txt" 2>&1
	stop "$SRV"
	read -r p50 p99 < <(awk '/^> /{print $NF*1000}' "$dir/latency.txt" | sort -g | awk '{a[NR]=$1} END{printf "%.3f %.3f\n", a[int(NR*0.5)], a[int(NR*0.99)]}')
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$RATE" "$p50" "$p99" >> "$LAT"
done

# ---------------------------------------------------------------- table
awk -F'\t' '
function median(s,   a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n ? ((n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) : ""
}
FNR == 1 { file++; next }
file == 1 {
	k = $1 ":" $2 " " $3; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
	first[k] = first[k] " " $6; steady[k] = steady[k] " " $7; ready[k] = ready[k] " " $5; anon[k] = anon[k] " " $8
	fr[k] = fr[k] " " ($7 > 0 ? $6 / $7 : 0)
	if ($9 != "-" && $9 != "" && $7 > 0) { smin[k] = smin[k] " " $9 / $7; smean[k] = smean[k] " " $10 / $7; if ($11 != "-") swaps[k] = swaps[k] " " $11 }
	if ($12 != "-" && $12 != "" && $7 > 0) { rmin[k] = rmin[k] " " $12 / $7; rmean[k] = rmean[k] " " $13 / $7 }
	if ($1 == "forward") fwd[$3, $4] = $7
	sr[k] = sr[k] " " $7 "/" $3 "/" $4
	next
}
file == 2 { p50[$1 ":" $2] = $4; p99[$1 ":" $2] = $5; rate = $3 }
END {
	f = "%-22s %-9s %8s %10s %10s %11s %10s %8s %-11s %7s %-11s\n"
	printf f, "case", "names", "ready_s", "first_qps", "steady_qps", "first/stdy", "stdy x fwd", "anon_MB", "swap/stdy", "swap_s", "reload/stdy"
	for (i = 1; i <= n; i++) {
		k = order[i]; split(k, kk, " "); m = split(substr(sr[k], 2), runs, " "); r = ""
		for (j = 1; j <= m; j++) { split(runs[j], p, "/"); if (fwd[p[2], p[3]] > 0) r = r " " p[1] / fwd[p[2], p[3]] }
		sw = (k in smin) ? sprintf("%.2f/%.2f", median(smin[k]), median(smean[k])) : "-"
		rl = (k in rmin) ? sprintf("%.2f/%.2f", median(rmin[k]), median(rmean[k])) : "-"
		printf f, kk[1], kk[2], median(ready[k]), median(first[k]), median(steady[k]), sprintf("%.2f", median(fr[k])), sprintf("%.2f", median(r)), median(anon[k]), sw, (k in swaps) ? median(swaps[k]) : "-", rl
	}
	printf "(swap/stdy, reload/stdy: the lowest second / the mean of the %s s after the rename or SIGUSR1, distinct names; swap_s: rename to the new file serving)\n", '"$EDGE_SECONDS"'
	if (rate != "") {
		printf "\np99 at %s qps (%s %% of forward, distinct names): forward %s ms\n", rate, '"$LAT_FRACTION"', p99["forward:-"]
		for (k in p99) if (k != "forward:-") printf "  %-20s p50 %s ms  p99 %s ms  (+%.3f ms)\n", k, p50[k], p99[k], p99[k] - p99["forward:-"]
	}
}' "$RAW" "$LAT" | tee "$OUT/table.txt"
log "raw results in $OUT"
