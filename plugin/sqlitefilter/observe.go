package sqlitefilter

import (
	"time"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/rules"
)

// decideStats is what one decision did, for the metrics.
type decideStats struct {
	cached         bool // answered from the verdict cache
	bloomNegatives int  // probes the Bloom filter answered without SQLite
	// group is the client's group and clients the lists and groups it was
	// chosen from; "" and nil for a database without groups.
	group   string
	clients *rules.Clients
}

// observe records one decision's duration and how it was reached.
func (f *SQLiteFilter) observe(server, view string, took time.Duration, ds *decideStats) {
	lookupDuration.WithLabelValues(server, view).Observe(took.Seconds())
	if f.cache != nil {
		if ds.cached {
			cacheHits.WithLabelValues(server, view).Inc()
		} else {
			cacheMisses.WithLabelValues(server, view).Inc()
		}
	}
	if ds.bloomNegatives > 0 {
		bloomNegatives.WithLabelValues(server, view).Add(float64(ds.bloomNegatives))
	}
}
