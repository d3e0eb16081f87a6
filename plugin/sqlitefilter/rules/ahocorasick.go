package rules

import "slices"

// acMatcher finds, in one pass over a name, every literal of a set that
// occurs in it (Aho–Corasick). It is the prefilter of the regex set: each
// literal maps to the patterns that cannot match a name without it.
//
// The root has a full 256-entry transition table (most bytes of a name
// leave the root at once); other nodes keep their few edges in a slice,
// which is smaller than a table and as fast for the one or two children a
// node of a literal trie has.
type acMatcher struct {
	root  [256]int32
	nodes []acNode
}

type acNode struct {
	edges []acEdge
	fail  int32   // longest proper suffix of this node's string that is a trie node
	dict  int32   // nearest node on the fail chain that ends a literal, or -1
	out   []int32 // ids of the literals ending here
}

type acEdge struct {
	b    byte
	next int32
}

// acBuilder collects literals before the automaton is built.
type acBuilder struct {
	nodes []acNode
}

func newACBuilder() *acBuilder {
	return &acBuilder{nodes: []acNode{{dict: -1}}}
}

// add inserts lit, reported as id when found.
func (b *acBuilder) add(lit string, id int32) {
	n := int32(0)
	for i := 0; i < len(lit); i++ {
		next := b.nodes[n].child(lit[i])
		if next < 0 {
			next = int32(len(b.nodes))
			b.nodes = append(b.nodes, acNode{dict: -1})
			b.nodes[n].edges = append(b.nodes[n].edges, acEdge{lit[i], next})
		}
		n = next
	}
	if !slices.Contains(b.nodes[n].out, id) {
		b.nodes[n].out = append(b.nodes[n].out, id)
	}
}

func (n *acNode) child(c byte) int32 {
	for _, e := range n.edges {
		if e.b == c {
			return e.next
		}
	}
	return -1
}

// build computes the failure and dictionary links breadth first.
func (b *acBuilder) build() *acMatcher {
	m := &acMatcher{nodes: b.nodes}
	queue := make([]int32, 0, len(m.nodes))
	for _, e := range m.nodes[0].edges {
		m.root[e.b] = e.next
		m.nodes[e.next].fail = 0
		queue = append(queue, e.next)
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, e := range m.nodes[n].edges {
			f := m.nodes[n].fail
			for {
				if next := m.step(f, e.b); next >= 0 {
					f = next
					break
				}
				f = m.nodes[f].fail
			}
			m.nodes[e.next].fail = f
			if len(m.nodes[f].out) > 0 {
				m.nodes[e.next].dict = f
			} else {
				m.nodes[e.next].dict = m.nodes[f].dict
			}
			queue = append(queue, e.next)
		}
	}
	return m
}

// step is the goto function: the child of n on c, or -1 (never at the root).
func (m *acMatcher) step(n int32, c byte) int32 {
	if n == 0 {
		return m.root[c]
	}
	return m.nodes[n].child(c)
}

// appendMatches appends to dst the id of every literal occurrence in s; ids
// may repeat.
func (m *acMatcher) appendMatches(dst []int32, s string) []int32 {
	n := int32(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		for {
			if next := m.step(n, c); next >= 0 {
				n = next
				break
			}
			n = m.nodes[n].fail
		}
		for d := n; d > 0; d = m.nodes[d].dict {
			dst = append(dst, m.nodes[d].out...)
		}
	}
	return dst
}
