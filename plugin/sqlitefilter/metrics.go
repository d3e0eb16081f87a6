package sqlitefilter

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are labelled by server and view, never by name or client: those are
// unbounded.
var (
	requestCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "requests_total",
		Help:      "Counter of requests by the action sqlitefilter took.",
	}, []string{"server", "view", "action"})

	dbErrorCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "db_errors_total",
		Help:      "Counter of database errors met while deciding a request.",
	}, []string{"server", "view"})

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
		Help:      "Rules held in memory: block_regex patterns and ip_rewrite rows, by database.",
	}, []string{"database", "table"})

	addrRewriteCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "sqlitefilter",
		Name:      "addresses_rewritten_total",
		Help:      "Counter of A and AAAA records whose address was rewritten.",
	}, []string{"server", "view"})
)
