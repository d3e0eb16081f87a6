#!/usr/bin/env bash
# soak.sh: run the real CoreDNS with sqlitefilter at saturation for DURATION
# seconds (default 600) while the database is edited, swapped and its table
# dropped, and the Corefile reloaded; check answers and the footprint.
#
#   test/scripts/soak.sh
#   DURATION=120 test/scripts/soak.sh
#
# What runs, all on loopback:
#   - CoreDNS (pinned to SUT_CPU): one server block with sqlitefilter, cache
#     and forward to a second server block of the same process, the fake
#     upstream (template plugin: 192.0.2.53 for every A, 192.0.2.99 for rw-*);
#   - dnsperf (pinned to LOAD_CPU) at saturation for DURATION;
#   - test/soak check (on LOAD_CPU): queries names whose verdict never
#     changes, over TCP and UDP, and samples RSS, descriptors and goroutines
#     (pprof) every 10 s;
#   - this script as the only writer: a row inserted or deleted with the
#     sqlite3 shell about every 0.25 s, the file swapped every minute
#     (sqlitefilter import --replace, then PRAGMA journal_mode=WAL), SIGUSR1
#     every 2 minutes (30 s after a swap), and fqdn_dns_block dropped and
#     re-created once, half-way.
# It fails when an answer is wrong, any SERVFAIL is seen (on_error is
# fail_closed, and the database never becomes unreadable), the server dies,
# the re-created table does not apply within 15 s, or the footprint grows.
# Every process it starts is stopped by its PID on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DURATION=${DURATION:-600}
SUT_CPU=${SUT_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
WORK=$(mktemp -d /tmp/sqlitefilter-soak.XXXXXX)
KEEP=${KEEP:-}   # non-empty: keep $WORK (logs, database) after the run

for tool in dnsperf sqlite3 dig taskset; do
  command -v "$tool" >/dev/null || { echo "soak.sh: $tool is missing (apt-get install dnsperf sqlite3 dnsutils util-linux)" >&2; exit 2; }
done

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -z "$KEEP" ]; then rm -rf "$WORK"; else echo "soak.sh: kept $WORK"; fi
}
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "soak.sh: building into $WORK"
(cd "$ROOT" && go build -o "$WORK/coredns" ./build/coredns && go build -o "$WORK/sqlitefilter" ./cmd/sqlitefilter && go build -o "$WORK/soak" ./test/soak)
SF=$WORK/sqlitefilter
DB=$WORK/dns.db

# The permanent rows, in every version of the file.
"$WORK/soak" rows block_exact >"$WORK/exact.txt"
"$WORK/soak" rows block_wildcard >"$WORK/wild.txt"
"$WORK/soak" rows block_regex >"$WORK/regex.txt"
"$WORK/soak" rows ip_rewrite_v4 >"$WORK/rewrite.csv"
"$WORK/soak" queries >"$WORK/queries.txt"
"$SF" init "$DB" >/dev/null
"$SF" import "$DB" --table block_exact "$WORK/exact.txt" >/dev/null
"$SF" import "$DB" --table block_wildcard "$WORK/wild.txt" >/dev/null
"$SF" import "$DB" --table block_regex "$WORK/regex.txt" >/dev/null
"$SF" import "$DB" --table ip_rewrite_v4 "$WORK/rewrite.csv" >/dev/null
sqlite3 "$DB" "INSERT INTO fqdn_dns_block(Domain) VALUES('dnsblock.soak.test')"

PORT=$(freeport); UP=$(freeport); PPROF=$(freeport); METRICS=$(freeport)
cat >"$WORK/Corefile" <<CONF
.:$PORT {
    bind 127.0.0.1
    errors
    pprof 127.0.0.1:$PPROF
    prometheus 127.0.0.1:$METRICS
    sqlitefilter $DB {
        refresh 1s
        on_error fail_closed
    }
    cache 30
    forward . 127.0.0.1:$UP
}
.:$UP {
    bind 127.0.0.1
    template IN A soak.test {
        match "^rw-"
        answer "{{ .Name }} 60 IN A 192.0.2.99"
        fallthrough
    }
    template IN A {
        answer "{{ .Name }} 60 IN A 192.0.2.53"
    }
    template IN AAAA {
        answer "{{ .Name }} 60 IN AAAA 2001:db8::53"
    }
}
CONF

taskset -c "$SUT_CPU" "$WORK/coredns" -conf "$WORK/Corefile" >"$WORK/server.log" 2>&1 &
SERVER=$!
pids+=("$SERVER")
a() { dig +short +time=2 +tries=1 @127.0.0.1 -p "$PORT" "$1" A 2>/dev/null | tail -1; }
for _ in $(seq 100); do
  [ "$(a perm-block-0.soak.test)" = 0.0.0.0 ] && [ "$(a rw-1.soak.test)" = 198.51.100.99 ] && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
  sleep 0.2
done
[ "$(a rw-1.soak.test)" = 198.51.100.99 ] || { echo "soak.sh: the server does not apply the rules"; cat "$WORK/server.log"; exit 1; }
echo "soak.sh: server $SERVER on 127.0.0.1:$PORT (cpu $SUT_CPU), load on cpu $LOAD_CPU, $DURATION s"

taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$PORT" -d "$WORK/queries.txt" -l "$DURATION" -c 4 -q 200 -t 2 >"$WORK/dnsperf.out" 2>&1 &
pids+=("$!")
taskset -c "$LOAD_CPU" "$WORK/soak" check -addr "127.0.0.1:$PORT" -pprof "127.0.0.1:$PPROF" -pid "$SERVER" -duration "${DURATION}s" >"$WORK/check.out" 2>&1 &
CHECK=$!
pids+=("$CHECK")

sql() { sqlite3 -cmd ".timeout 5000" "$DB" "$@" >/dev/null || echo "soak.sh: write failed: $*" >&2; }
start=$SECONDS
next_swap=60; next_reload=90; drop_at=$((DURATION / 2 + 15))
swaps=0; reloads=0; writes=0; dropped=""; recreated="not done"
while [ $((SECONDS - start)) -lt "$DURATION" ]; do
  t=$((SECONDS - start))
  kill -0 "$SERVER" 2>/dev/null || { echo "soak.sh: the server died at ${t}s"; tail -50 "$WORK/server.log"; exit 1; }
  k=$((RANDOM % 200))
  case $((RANDOM % 4)) in
    0) sql "INSERT OR IGNORE INTO block_exact(Domain) VALUES('churn-$k.soak.test')" ;;
    1) sql "DELETE FROM block_exact WHERE Domain='churn-$k.soak.test'" ;;
    2) sql "INSERT OR IGNORE INTO block_wildcard(Domain) VALUES('churnwild-$((k % 20)).soak.test')" ;;
    3) sql "DELETE FROM block_wildcard WHERE Domain='churnwild-$((k % 20)).soak.test'" ;;
  esac
  writes=$((writes + 1))
  if [ "$t" -ge "$next_swap" ]; then
    "$SF" import "$DB" --table block_exact --replace "$WORK/exact.txt" >/dev/null
    sql 'PRAGMA journal_mode=WAL'
    swaps=$((swaps + 1)); next_swap=$((next_swap + 60))
  fi
  if [ "$t" -ge "$next_reload" ]; then
    kill -USR1 "$SERVER"
    reloads=$((reloads + 1)); next_reload=$((next_reload + 120))
  fi
  if [ -z "$dropped" ] && [ "$t" -ge "$drop_at" ]; then
    dropped=yes
    schema=$(sqlite3 "$DB" "SELECT sql || ';' FROM sqlite_master WHERE tbl_name='fqdn_dns_block' AND sql IS NOT NULL ORDER BY type <> 'table'")
    [ "$(a n1.dnsblock.soak.test)" = 0.0.0.0 ] || echo "soak.sh: fqdn_dns_block did not apply before the drop"
    sql 'DROP TABLE fqdn_dns_block'
    sleep 3
    during=$(a n1.dnsblock.soak.test)
    sql "$schema INSERT INTO fqdn_dns_block(Domain) VALUES('dnsblock.soak.test');"
    t0=$SECONDS
    while [ $((SECONDS - t0)) -lt 15 ] && [ "$(a n1.dnsblock.soak.test)" != 0.0.0.0 ]; do sleep 0.2; done
    if [ "$(a n1.dnsblock.soak.test)" = 0.0.0.0 ]; then
      recreated="applied within $((SECONDS - t0)) s (while dropped: ${during:-no answer})"
    else
      recreated="FAILED: not applied 15 s after re-creation (while dropped: ${during:-no answer})"
    fi
  fi
  sleep 0.25
done

wait "$CHECK" && checked=0 || checked=$?
pids=("${pids[@]/$CHECK}")
for p in "${pids[@]}"; do [ "$p" = "$SERVER" ] || wait "$p" 2>/dev/null || true; done
alive=yes; kill -0 "$SERVER" 2>/dev/null || alive=no

echo
echo "== soak: $DURATION s, $writes writes, $swaps swaps, $reloads reloads (SIGUSR1), table dropped: ${dropped:-no}"
echo "re-created fqdn_dns_block: $recreated"
grep -E 'Queries (sent|completed|lost)|Response codes|Queries per second' "$WORK/dnsperf.out" | sed 's/^ */dnsperf: /'
load_servfail=$(grep -o 'SERVFAIL [0-9]*' "$WORK/dnsperf.out" | awk '{print $2}' || true); load_servfail=${load_servfail:-0}
echo "reloads logged complete: $(grep -c 'Reloading complete' "$WORK/server.log" || true); panics logged: $(grep -c -i 'panic' "$WORK/server.log" || true); server alive: $alive"
echo "server errors logged: $(grep -c '\[ERROR\]' "$WORK/server.log" || true)"
grep '\[ERROR\]' "$WORK/server.log" | sort | uniq -c | sort -rn | head -5 || true
cat "$WORK/check.out"

fail=0
[ "$checked" -eq 0 ] || fail=1
[ "$load_servfail" -eq 0 ] || { echo "soak.sh: $load_servfail SERVFAIL in the load"; fail=1; }
[ "$alive" = yes ] || fail=1
case $recreated in applied*) ;; *) fail=1 ;; esac
[ "$fail" -eq 0 ] && echo "soak.sh: PASS" || echo "soak.sh: FAIL"
exit $fail
