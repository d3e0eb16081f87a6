# Shared by the benchmark scripts of this directory (sourced, not run):
# logging, stopping what they started by PID, pinning the server under test
# to SUT_CPU and the load to LOAD_CPU (niced by NICE), and dnsperf.
# The script sets SUT_CPU, LOAD_CPU and NICE before sourcing it.

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

PIDS=()
stop() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
AUTOGROUP_OLD=
cleanup() {
	local p
	for p in "${PIDS[@]}"; do stop "$p"; done
	if [ -n "$AUTOGROUP_OLD" ]; then echo "$AUTOGROUP_OLD" > /proc/self/autogroup 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
PRE_SUT=(taskset -c "$SUT_CPU")
PRE_LOAD=(taskset -c "$LOAD_CPU")
if [ -n "$NICE" ]; then
	PRE_SUT=(nice -n "$NICE" "${PRE_SUT[@]}")
	PRE_LOAD=(nice -n "$NICE" "${PRE_LOAD[@]}")
	# With kernel autogroups nice only competes inside one session: give this
	# session's group the same weight.
	if [ -w /proc/self/autogroup ]; then
		AUTOGROUP_OLD=$(awk '{print $3}' /proc/self/autogroup)
		echo "$NICE" > /proc/self/autogroup || AUTOGROUP_OLD=
	fi
fi

if ! command -v dnsperf > /dev/null; then
	log "installing dnsperf"
	SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq && $SUDO apt-get install -y -qq dnsperf > /dev/null || die "apt-get install dnsperf failed"
fi
