// Package sqlitefilter is a CoreDNS plugin that allows, blocks, forwards,
// aliases and rewrites DNS traffic from rules held in a SQLite database.
package sqlitefilter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
)

const pluginName = "sqlitefilter"

var log = clog.NewWithPlugin(pluginName)

// SQLiteFilter is the plugin handler.
type SQLiteFilter struct {
	Next plugin.Handler
	cfg  Config

	// store is the open database, replaced whole when the file is swapped;
	// nil until a first open succeeded, so Ready is false until then.
	store  atomic.Pointer[Store]
	errors *errorLog
	// failing is set while opening the file fails; Start and then the
	// watcher goroutine are its only users.
	failing bool
	stop    chan struct{}
	done    sync.WaitGroup
}

// New returns a handler for cfg. It opens nothing: Start does.
func New(cfg Config) *SQLiteFilter {
	return &SQLiteFilter{cfg: cfg, errors: newErrorLog(errorLogInterval)}
}

// Name implements plugin.Handler.
func (f *SQLiteFilter) Name() string { return pluginName }

// Start opens the database and starts watching it. At the server's start, a
// database that cannot be opened does not stop the server: the watcher keeps
// trying every refresh interval, queries meanwhile follow on_error, and Ready
// stays false, so a Kubernetes readiness probe holds traffic back until the
// file arrives (an init container or a sidecar may still be writing it). At a
// Corefile reload it fails the reload instead, so the running configuration
// keeps serving rather than a new one that cannot filter.
func (f *SQLiteFilter) Start() error {
	if caddy.Started() {
		if err := f.open(); err != nil {
			return fmt.Errorf("%w; the reload is refused and the running configuration keeps serving", err)
		}
	} else {
		f.reopen()
	}
	f.stop = make(chan struct{})
	f.done.Add(1)
	go f.watch()
	return nil
}

// Stop stops watching and closes the database.
func (f *SQLiteFilter) Stop() error {
	if f.stop == nil {
		return nil
	}
	close(f.stop)
	f.done.Wait()
	f.stop = nil
	if s := f.store.Swap(nil); s != nil {
		return s.Close()
	}
	return nil
}

// errNotOpen is the error of a lookup before the database was ever opened.
var errNotOpen = errors.New("sqlitefilter: database not open")

// ServeDNS implements plugin.Handler.
func (f *SQLiteFilter) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	if len(r.Question) != 1 || r.Opcode != dns.OpcodeQuery || r.Question[0].Qclass != dns.ClassINET {
		return plugin.NextOrFailure(f.Name(), f.Next, ctx, w, r)
	}
	state := request.Request{W: w, Req: r}
	start := time.Now()
	v, err := f.decide(Canonical(state.QName()))
	lookupDuration.WithLabelValues(metrics.WithServer(ctx), metrics.WithView(ctx)).Observe(time.Since(start).Seconds())
	record(ctx, v, err)
	if err != nil {
		dbErrorCount.WithLabelValues(metrics.WithServer(ctx), metrics.WithView(ctx)).Inc()
		if !errors.Is(err, errNotOpen) { // the watcher logs why it is not open
			f.errors.Log(fmt.Errorf("look up %s: %w", f.cfg.Path, err))
		}
		if f.cfg.OnError == FailOpen {
			return plugin.NextOrFailure(f.Name(), f.Next, ctx, w, r)
		}
		// Nothing written: the server answers SERVFAIL. The error is logged
		// above at a bounded rate rather than by the errors plugin per query.
		return dns.RcodeServerFailure, nil
	}
	requestCount.WithLabelValues(metrics.WithServer(ctx), metrics.WithView(ctx), v.Action.String()).Inc()
	switch v.Action {
	case ActionBlock, ActionBlockUpstream:
		w.WriteMsg(blockedReply(r, &f.cfg))
		// The reply is written, even when it is REFUSED.
		return dns.RcodeSuccess, nil
	}
	return plugin.NextOrFailure(f.Name(), f.Next, ctx, w, r)
}

// decide returns the verdict for name from the current store. A store closed
// under the lookup has just been replaced by the watcher: the lookup runs
// again on its successor, so a swap fails no query.
func (f *SQLiteFilter) decide(name string) (Verdict, error) {
	for {
		s := f.store.Load()
		if s == nil {
			return Verdict{}, errNotOpen
		}
		var v Verdict
		err := s.View(func(src Source) error {
			var err error
			v, err = Decide(src, name)
			return err
		})
		if errors.Is(err, errClosed) && f.store.Load() != s {
			continue
		}
		return v, err
	}
}
