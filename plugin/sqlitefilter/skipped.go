package sqlitefilter

import (
	"strconv"
	"strings"
	"sync"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
)

// maxReported bounds how many skipped rows are remembered as reported. Past
// it the memory starts afresh, so a row may be logged again, but memory stays
// bounded whatever the number of bad rows.
const maxReported = 10000

// skipReporter logs each unusable row once and counts it in
// rows_skipped_total: rows loaded in memory are met at every
// rebuild and alias rows at every query, and neither may flood the log.
type skipReporter struct {
	mu   sync.Mutex
	seen map[policy.Skipped]struct{}
}

func newSkipReporter() *skipReporter {
	return &skipReporter{seen: map[policy.Skipped]struct{}{}}
}

// report logs and counts s unless it was reported before.
func (r *skipReporter) report(s policy.Skipped, detail string) {
	r.mu.Lock()
	if _, ok := r.seen[s]; ok {
		r.mu.Unlock()
		return
	}
	if len(r.seen) >= maxReported {
		clear(r.seen)
	}
	r.seen[s] = struct{}{}
	r.mu.Unlock()
	rowsSkipped.WithLabelValues(s.Rule.Table.Name(), s.Reason).Inc()
	if s.Value != "" {
		detail = "target " + strconv.Quote(s.Value) + ": " + detail
	}
	if detail != "" {
		detail = ": " + strings.TrimSuffix(detail, ": ")
	}
	log.Warningf("%s row %q skipped (%s)%s", s.Rule.Table.Name(), s.Rule.Key, s.Reason, detail)
}
