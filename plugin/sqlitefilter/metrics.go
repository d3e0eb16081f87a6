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
)
