#!/usr/bin/env bash
# table.sh RAW.tsv LATENCY.tsv: the summary of a test/bench/run.sh run: per
# case the median over rounds, QPS as the median of per-round ratios to the
# forward run of the same round, the latency at a fixed rate, and the targets
# of issue 5, each reported met or not.
set -eu
awk -F'\t' '
function median(s,   a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	if (n == 0) return ""
	return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function lo(s,   a, n, i, m) { n = split(s, a, " "); m = a[1] + 0; for (i = 2; i <= n; i++) if (a[i] + 0 < m) m = a[i] + 0; return m }
function hi(s,   a, n, i, m) { n = split(s, a, " "); m = a[1] + 0; for (i = 2; i <= n; i++) if (a[i] + 0 > m) m = a[i] + 0; return m }
FNR == 1 { file++; next }
file == 1 {
	k = $1 ":" $2
	if (!(k in seen)) { seen[k] = 1; order[++n] = k }
	qps[k] = qps[k] " " $4; mean[k] = mean[k] " " $5; ready[k] = ready[k] " " $7
	if ($8 != "-") bloom[k] = bloom[k] " " $8
	rss[k] = rss[k] " " $9; anon[k] = anon[k] " " $10; cpu[k] = cpu[k] " " $11; if (NF >= 12) pss[k] = pss[k] " " $12
	run[k, $3] = $4; if ($1 == "forward") fwd[$3] = $4
	rounds[k] = rounds[k] " " $3
	next
}
file == 2 { lk = $1 ":" $2; rate = $3; p50[lk] = $6; p99[lk] = $7; lqps[lk] = $4; lmean[lk] = $5 }
END {
	fmt = "%-16s %3s %8s %17s %8s %8s %8s %7s %8s %8s %8s %8s %8s %9s\n"
	printf fmt, "case", "n", "QPS", "x fwd (min..max)", "mean_ms", "RSS_MB", "anon_MB", "PSS_MB", "ready_s", "bloom_s", "cpu_us/q", "p50_ms@", "p99_ms@", "p99+_ms"
	for (i = 1; i <= n; i++) {
		k = order[i]; r = ""
		split(substr(rounds[k], 2), rr, " ")
		for (j in rr) if (fwd[rr[j]] > 0) r = r " " run[k, rr[j]] / fwd[rr[j]]
		ratio[k] = median(r)
		add = (k in p99 && "forward:-" in p99) ? sprintf("%.3f", p99[k] - p99["forward:-"]) : "-"
		addp99[k] = add
		printf fmt, k, split(substr(qps[k], 2), tmp, " "), median(qps[k]), sprintf("%.2f (%.2f..%.2f)", ratio[k], lo(r), hi(r)),
			median(mean[k]), median(rss[k]), median(anon[k]), (pss[k] == "" ? "-" : median(pss[k])), median(ready[k]), (bloom[k] == "" ? "-" : median(bloom[k])), median(cpu[k]),
			(k in p50 ? p50[k] : "-"), (k in p99 ? p99[k] : "-"), add
		mq[k] = median(qps[k]); mr[k] = median(ready[k]); mrss[k] = median(rss[k]); manon[k] = median(anon[k])
	}
	printf "x fwd: median over rounds of QPS / forward QPS of the same round. latency columns (@): fixed rate %s qps (dnsperf -Q), p99+ = p99 minus forward p99\n\n", rate
	for (i = 1; i <= n; i++) if (order[i] ~ /^hosts:/) hk = order[i]
	printf "targets:\n"
	t("filter:10000000", "forward:-", "(b)@10M >= 0.95 x (a) QPS (paired ratio)", ratio["filter:10000000"], ">=", 0.95)
	for (i = 1; i <= n; i++) if (order[i] ~ /^filter:/) t(order[i], hk, "(b)@" order[i] " >= (c) " hk " QPS (paired ratio)", paired(order[i], hk), ">=", 1)
	for (i = 1; i <= n; i++) if (order[i] ~ /^groups:/) { g = order[i]; f = "filter:" substr(g, 8); t(g, f, "(d) " g " >= 0.95 x (b) " f " QPS (paired ratio)", paired(g, f), ">=", 0.95) }
	for (i = 1; i <= n; i++) if (order[i] ~ /^nocheck:/) { g = order[i]; f = "filter:" substr(g, 9); t(f, g, "(b) " f " >= 0.95 x (e) " g " QPS: the answer check (paired ratio)", paired(f, g), ">=", 0.95) }
	t("filter:100000000", "filter:1000000", "(b)@100M >= 0.9 x (b)@1M QPS (paired ratio)", paired("filter:100000000", "filter:1000000"), ">=", 0.9)
	t("filter:100000000", "", "start to ready < 1 s at 100M", mr["filter:100000000"], "<", 1)
	t("filter:100000000", "", "memory < 300 MB at 100M, Bloom filter on (RssAnon: page cache and mmap not counted)", manon["filter:100000000"], "<", 300)
	for (i = 1; i <= n; i++) if (order[i] ~ /^filter:/) t(order[i], "", "p99 added < 0.100 ms at " rate " qps, " order[i], addp99[order[i]], "<", 0.1)
}
# paired(a, b): median over rounds of QPS(a) / QPS(b) in the same round
function paired(a, b,   r, j, rr) {
	if (!(a in seen) || !(b in seen)) return ""
	split(substr(rounds[a], 2), rr, " ")
	r = ""
	for (j in rr) if (run[b, rr[j]] > 0) r = r " " run[a, rr[j]] / run[b, rr[j]]
	return median(r)
}
function t(k, other, what, v, op, lim,   ok) {
	if (v == "" || v == "-" || !(k in seen)) { printf "  %-70s  not measured\n", what; return }
	ok = (op == ">=") ? (v + 0 >= lim) : (v + 0 < lim)
	printf "  %-70s  %s  (%s)\n", what, ok ? "MET" : "NOT MET", v
}' "$@"
