package store

import (
	"slices"
	"testing"
)

func TestConnPoolLendsTheMostRecentlyReturnedFirst(t *testing.T) {
	a, b, c := &conn{}, &conn{}, &conn{}
	p := newConnPool(3)
	p.put(a)
	p.put(b)
	p.put(c)
	got, ok := p.get()
	if !ok || got != c {
		t.Fatalf("get() = %p, want the last returned %p", got, c)
	}
	p.put(got)
	var visited []*conn
	p.eachIdle(func(x *conn) { visited = append(visited, x) })
	if len(visited) != 3 || !slices.Contains(visited, a) || !slices.Contains(visited, b) || !slices.Contains(visited, c) {
		t.Fatalf("eachIdle visited %v, want each of the 3 once", visited)
	}
	if got, _ := p.get(); got != c {
		t.Fatalf("eachIdle changed the order: get() = %p, want %p", got, c)
	}
	if got, _ := p.get(); got != b {
		t.Fatalf("second get() = %p, want %p", got, b)
	}
	if got, _ := p.get(); got != a {
		t.Fatalf("third get() = %p, want %p", got, a)
	}
	if got, ok := p.tryGet(); got != nil || !ok {
		t.Fatalf("tryGet() on an empty pool = %p, %v; want nil, true", got, ok)
	}
	p.close()
	if _, ok := p.get(); ok {
		t.Fatal("get() on a closed pool reported a connection")
	}
	if _, ok := p.tryGet(); ok {
		t.Fatal("tryGet() on a closed pool did not report it closed")
	}
}
