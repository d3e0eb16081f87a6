#!/usr/bin/env bash
# genlist.sh N FILE: write N distinct pseudo-random host names, one per line,
# deterministic (awk srand 42), shaped like real block lists: 2-4 labels,
# 30 TLDs, shared registrable domains. Average length ~22 bytes.
set -euo pipefail
n=${1:?N}; out=${2:?FILE}
awk -v n="$n" 'BEGIN {
  srand(42)
  split("com com com com net org io info biz xyz top cn ru de uk co online site club shop app dev me tv cc us in br fr es", tld, " ")
  split("ads track pixel stat metric cdn img log collect beacon sync tag click serve video media", word, " ")
  a = "abcdefghijklmnopqrstuvwxyz0123456789"
  for (i = 0; i < n; i++) {
    # the index i, spread over letters, makes every name distinct
    id = ""; v = i
    do { id = id substr(a, v % 36 + 1, 1); v = int(v / 36) } while (v > 0)
    r = ""; for (k = 0; k < 3 + int(rand() * 4); k++) r = r substr(a, int(rand() * 36) + 1, 1)
    sld = word[int(rand() * 16) + 1] "-" int(rand() * 1000)
    labels = rand()
    if (labels < 0.3)      name = r id "." sld
    else if (labels < 0.75) name = r id "." sld "." tld[int(rand() * 30) + 1]
    else                   name = r "." id "x." sld "." tld[int(rand() * 30) + 1]
    if (labels < 0.3) name = name "." tld[int(rand() * 30) + 1]
    print name
  }
}' > "$out"
