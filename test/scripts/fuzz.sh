#!/usr/bin/env bash
# fuzz.sh [DURATION]: run every Go fuzz target of the module, one after the
# other, for DURATION each (default 10m, any `go test -fuzztime` value).
# Targets are found with `go test -list '^Fuzz'` in every package, so new
# ones are picked up without editing this script. FUZZ=REGEX keeps only the
# targets whose name matches. A finding is written by `go test` under the
# package's testdata/fuzz/NAME/; commit it as a seed once fixed.
# Prints the executions of each run and exits non-zero if any run failed.
set -uo pipefail
duration=${1:-10m}
only=${FUZZ:-.}
cd "$(dirname "$0")/../.."
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# Only packages with a fuzz function are asked for their list: listing runs
# a package's TestMain (the end-to-end one builds CoreDNS).
targets=()
for pkg in $(go list -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r p d; do
  grep -l '^func Fuzz' "$d"/*_test.go >/dev/null 2>&1 && echo "$p"
done); do
  for name in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' | grep -E -- "$only"); do
    targets+=("$pkg $name")
  done
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz.sh: no fuzz target matches $only" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, $duration each"

failed=0
summary=()
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  log="$logs/$name.log"
  echo "== $name ($pkg)"
  nice -n 19 go test -run '^$' -fuzz "^${name}\$" -fuzztime "$duration" "$pkg" 2>&1 | tee "$log" | grep -E -v '^fuzz: elapsed'
  rc=${PIPESTATUS[0]}
  execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  verdict=PASS
  if [ "$rc" -ne 0 ]; then verdict=FAIL; failed=1; fi
  summary+=("$(printf '%-4s %-24s %12s execs  %s' "$verdict" "$name" "${execs:-0}" "$pkg")")
done
echo
echo "fuzz.sh: $duration per target"
printf '%s\n' "${summary[@]}"
exit $failed
