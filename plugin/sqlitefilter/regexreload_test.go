package sqlitefilter

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// TestRegexRowChangeAt100kPatterns: a changed block_regex row among 100,000
// applies within a few refresh intervals, and while the set is rebuilt the
// previous set serves: a name another pattern blocks is blocked by every
// query.
func TestRegexRowChangeAt100kPatterns(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles 100,000 patterns")
	}
	patterns := append(testkit.RegexPatterns(100000), `^old[0-9]+\.swap\.test$`, `^kept[0-9]+\.swap\.test$`)
	path := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockRegex(patterns...)...)
	c := newChain(t, path, "", false)
	blocked := func(name string) bool {
		r := c.query(queryA(name), false)
		return r != nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1 && r.Answer[0].(*dns.A).A.IsUnspecified()
	}
	if !blocked("old1.swap.test.") || blocked("new1.swap.test.") {
		t.Fatal("the rules as created do not apply")
	}

	var gaps, queries atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			queries.Add(1)
			if !blocked("kept7.swap.test.") {
				gaps.Add(1)
			}
			time.Sleep(time.Millisecond)
		}
	}()

	from := time.Now()
	testkit.ExecSQL(t, path, `UPDATE block_regex SET Pattern = '^new[0-9]+\.swap\.test$' WHERE Pattern = '^old[0-9]+\.swap\.test$'`)
	testkit.Eventually(t, "the changed pattern to apply", 20*time.Second, func() bool {
		return blocked("new1.swap.test.") && !blocked("old1.swap.test.")
	})
	took := time.Since(from)
	close(stop)
	wg.Wait()
	t.Logf("changed pattern applied in %s (refresh %s); %d queries meanwhile", took.Round(time.Millisecond), c.f.cfg.Refresh, queries.Load())
	if gaps.Load() != 0 {
		t.Errorf("%d of %d queries for a name another pattern blocks were not blocked while the set was rebuilt", gaps.Load(), queries.Load())
	}
}
