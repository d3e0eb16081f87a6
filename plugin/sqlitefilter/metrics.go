package sqlitefilter

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
)

// Metrics of requests are labelled by server and view, never by name or
// client: those are unbounded. The list label is bounded too (metricList). Metrics of the database itself, which the
// background watcher keeps, are labelled by the database path from the
// Corefile (as the hosts plugin labels by hostsfile): a handful of values.
var (
	requestCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "requests_total",
		Help:      "Counter of requests by the action sqlitefilter took and the list of the row that decided it.",
	}, []string{"server", "view", "action", "list"})

	// lookupDuration starts at 1 µs: a decision from SQLite takes a few
	// microseconds, far below CoreDNS's TimeBuckets (0.25 ms and up), and
	// reaches a second, the default busy_timeout.
	lookupDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace:                   plugin.Namespace,
		Subsystem:                   "sqlitefilter",
		Name:                        "lookup_duration_seconds",
		Help:                        "Histogram of the time sqlitefilter took to decide a request.",
		Buckets:                     prometheus.ExponentialBuckets(1e-6, 4, 11),
		NativeHistogramBucketFactor: plugin.NativeHistogramBucketFactor,
	}, []string{"server", "view"})

	dbErrorCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "db_errors_total",
		Help:      "Counter of requests that met a database error, answered as on_error says.",
	}, []string{"server", "view"})

	watchErrorCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "database_errors_total",
		Help:      "Counter of failures to find, open, check or measure the database in the background.",
	}, []string{"database"})

	reloadCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "reloads_total",
		Help:      "Counter of checks that found committed changes in the database (several commits between two checks count once).",
	}, []string{"database"})

	reloadTime = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "reload_timestamp_seconds",
		Help:      "The time a check last found committed changes in the database.",
	}, []string{"database"})

	replicaTXID = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "replica_txid",
		Help:      "The last Litestream transaction ID applied to a database kept by `litestream restore -f`, from its -txid file.",
	}, []string{"database"})

	replicaAge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "replica_age_seconds",
		Help:      "Seconds since the Litestream follower last applied a change to the database; it grows while the object store or the writer is unreachable.",
	}, []string{"database"})

	swapCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "swaps_total",
		Help:      "Counter of times sqlitefilter opened the database file anew: at start, after a replacement, after a failure.",
	}, []string{"database"})

	swapTime = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "swap_timestamp_seconds",
		Help:      "The time sqlitefilter last opened the database file anew.",
	}, []string{"database"})

	tableRows = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "table_rows",
		Help:      "Rows per rule table: from ANALYZE's statistics when present, else counted up to 1000000 (normalized layout: among the first 1000000 records).",
	}, []string{"database", "table"})

	rowsSkipped = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "rows_skipped_total",
		Help:      "Counter of database rows that cannot be used (each counted once), by table and reason.",
	}, []string{"table", "reason"})

	rulesLoaded = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "rules_loaded",
		Help:      "Rules held in memory: block_regex patterns, ip_rewrite rows and block_ip rows, by database.",
	}, []string{"database", "table"})

	addrRewriteCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "addresses_rewritten_total",
		Help:      "Counter of addresses rewritten in answers: A and AAAA records, SVCB and HTTPS hints.",
	}, []string{"server", "view"})

	cacheHits = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "cache_hits_total",
		Help:      "Counter of requests decided from the verdict cache.",
	}, []string{"server", "view"})

	cacheMisses = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "cache_misses_total",
		Help:      "Counter of requests the verdict cache could not decide (only counted while the cache is on).",
	}, []string{"server", "view"})

	bloomNegatives = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "bloom_negatives_total",
		Help:      "Counter of lookups the Bloom filter answered as absent without asking SQLite.",
	}, []string{"server", "view"})
)

// metricLists is how many lists, by id, have their name as the list label of
// requests_total; the rest are "other", so the label has at most
// metricLists + 2 values whatever the database holds.
const metricLists = 16

// metricList is the list label of a request's verdict: the list's name for
// ids below metricLists, "other" above, "-" when no row decided.
func metricList(v policy.Verdict, ds *decideStats) string {
	if v.Action == policy.ActionPass || v.Lists == 0 {
		return "-"
	}
	if v.Lists.First() >= metricLists {
		return "other"
	}
	if n := listName(v, ds); n != "" {
		return n
	}
	return "other"
}
