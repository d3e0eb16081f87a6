package store

import "sync"

// connPool lends a Store's connections last in, first out. Under a load that
// keeps only a few lookups in flight (two cores run two at a time), the same
// few connections are lent again and again and their page caches stay hot,
// while the rest of a large pool stands by for bursts and slow lookups. A
// FIFO rotation through all of them (a channel) spread the same queries over
// every connection's cache and cost ~11 µs of CPU per SQLite-answered query
// at 32 connections against 4 (test/bench/README.md).
type connPool struct {
	tokens chan struct{} // one per idle connection; closed with the pool
	mu     sync.Mutex
	idle   []*conn // most recently returned last
}

func newConnPool(size int) *connPool {
	return &connPool{tokens: make(chan struct{}, size), idle: make([]*conn, 0, size)}
}

// get waits for an idle connection; it reports false once the pool is closed.
func (p *connPool) get() (*conn, bool) {
	if _, ok := <-p.tokens; !ok {
		return nil, false
	}
	return p.pop(), true
}

// tryGet is get without waiting: it returns nil, true when every connection
// is lent.
func (p *connPool) tryGet() (*conn, bool) {
	select {
	case _, ok := <-p.tokens:
		if !ok {
			return nil, false
		}
		return p.pop(), true
	default:
		return nil, true
	}
}

// put gives a connection back.
func (p *connPool) put(c *conn) {
	p.mu.Lock()
	p.idle = append(p.idle, c)
	p.mu.Unlock()
	p.tokens <- struct{}{}
}

func (p *connPool) pop() *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.idle[len(p.idle)-1]
	p.idle = p.idle[:len(p.idle)-1]
	return c
}

// eachIdle runs fn on every connection idle now, lending them all at once so
// none is visited twice, and gives them back in their order.
func (p *connPool) eachIdle(fn func(*conn)) {
	var lent []*conn
	for {
		c, ok := p.tryGet()
		if !ok || c == nil {
			break
		}
		lent = append(lent, c)
	}
	for _, c := range lent {
		fn(c)
	}
	for i := len(lent) - 1; i >= 0; i-- {
		p.put(lent[i])
	}
}

// close makes every waiting and later get report false. The caller has
// taken every connection back first.
func (p *connPool) close() { close(p.tokens) }
