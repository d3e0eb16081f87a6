#!/usr/bin/env bash
# fuzz.sh [DURATION] [PACKAGE…]: run every Go fuzz target of the module (or of
# the packages given) for DURATION each (default 10m), one after another, as
# `go test -fuzz` allows one target at a time. Plain `go test` runs only the
# seed corpora; this is the long run. A failure stops the script and leaves
# the failing input in the package's testdata/fuzz/<target>/, to be committed
# as a seed once fixed. FUZZ_PARALLEL sets the fuzzing workers (default: all
# cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10m}
shift || true
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)
parallel=()
[ -z "${FUZZ_PARALLEL:-}" ] || parallel=(-parallel "$FUZZ_PARALLEL")
for pkg in $(go list "${pkgs[@]}"); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "== $pkg $target ($duration)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$duration" "${parallel[@]}" "$pkg"
	done
done
