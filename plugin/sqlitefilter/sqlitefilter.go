// Package sqlitefilter is a CoreDNS plugin that allows, blocks, forwards,
// aliases and rewrites DNS traffic from rules held in a SQLite database.
package sqlitefilter

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

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

	store atomic.Pointer[Store] // nil until OnStartup opened the database
	stop  chan struct{}
	done  sync.WaitGroup
}

// New returns a handler for cfg. It opens nothing: Start does.
func New(cfg Config) *SQLiteFilter {
	return &SQLiteFilter{cfg: cfg}
}

// Name implements plugin.Handler.
func (f *SQLiteFilter) Name() string { return pluginName }

// Start opens the database and starts watching it for changes.
func (f *SQLiteFilter) Start() error {
	s, err := OpenStore(f.cfg.Path, StoreOptions{Pool: f.cfg.Pool, BusyTimeoutMS: int(f.cfg.BusyTimeout / time.Millisecond)})
	if err != nil {
		return fmt.Errorf("%w; create it with `sqlitefilter init %s`, or fix the path in the Corefile", err, f.cfg.Path)
	}
	for _, t := range s.Missing() {
		log.Infof("%s: table %s is missing, so its rules are empty", f.cfg.Path, t)
	}
	f.store.Store(s)
	f.stop = make(chan struct{})
	f.done.Add(1)
	go f.watch(s)
	return nil
}

// Stop stops watching and closes the database.
func (f *SQLiteFilter) Stop() error {
	s := f.store.Swap(nil)
	if s == nil {
		return nil
	}
	close(f.stop)
	f.done.Wait()
	return s.Close()
}

// watch notices committed changes every refresh interval.
func (f *SQLiteFilter) watch(s *Store) {
	defer f.done.Done()
	t := time.NewTicker(f.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
			if _, err := s.Refresh(); err != nil {
				log.Errorf("%v", err)
			}
		}
	}
}

// ServeDNS implements plugin.Handler.
func (f *SQLiteFilter) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	if len(r.Question) != 1 || r.Opcode != dns.OpcodeQuery || r.Question[0].Qclass != dns.ClassINET {
		return plugin.NextOrFailure(f.Name(), f.Next, ctx, w, r)
	}
	state := request.Request{W: w, Req: r}
	v, err := f.decide(Canonical(state.QName()))
	if err != nil {
		dbErrorCount.WithLabelValues(metrics.WithServer(ctx), metrics.WithView(ctx)).Inc()
		return dns.RcodeServerFailure, fmt.Errorf("%s: decide %s: %w", pluginName, state.QName(), err)
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

func (f *SQLiteFilter) decide(name string) (Verdict, error) {
	s := f.store.Load()
	if s == nil {
		return Verdict{}, errClosed
	}
	var v Verdict
	err := s.View(func(src Source) error {
		var err error
		v, err = Decide(src, name)
		return err
	})
	return v, err
}
