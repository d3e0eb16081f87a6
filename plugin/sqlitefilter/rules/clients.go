package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// Clients are the named lists and the client groups of a database: which
// lists are enabled, what they are called, and which lists apply to a
// client address. It is immutable once loaded.
type Clients struct {
	names   [schema.MaxLists]string // by id; "" where there is no list
	enabled policy.Lists
	groups  map[string]*Group
	def     *Group // clients in no group
	// byLen holds the group prefixes by prefix length, longest first, so
	// that a client's group is found with one map look-up per length.
	byLen []prefixesOfLen
}

type prefixesOfLen struct {
	bits   int
	groups map[netip.Prefix]*Group
}

// Group is a client group as read from the database.
type Group struct {
	Name  string
	Lists policy.Lists
	// PausedUntil is when a pause ends; zero when the group is not paused.
	PausedUntil time.Time
	Prefixes    []netip.Prefix
}

// loadClients reads the lists and groups tables; nil when the database has
// none. A row that cannot be used (a prefix that does not parse, an id out
// of range) is left out.
func loadClients(src Scanner) (*Clients, error) {
	if !src.ListTables() {
		return nil, nil
	}
	c := &Clients{groups: map[string]*Group{}}
	c.names[0] = schema.DefaultList
	c.enabled = policy.DefaultLists
	err := src.ScanListTable(schema.ListsTable, "id, name, enabled", func(v []string) {
		id, err := strconv.Atoi(v[0])
		if err != nil || id < 0 || id >= schema.MaxLists {
			return
		}
		c.names[id] = v[1]
		bit := policy.Lists(1) << id
		if v[2] != "0" {
			c.enabled |= bit
		} else {
			c.enabled &^= bit
		}
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", schema.ListsTable, err)
	}
	err = src.ScanListTable(schema.GroupsTable, "name, lists, paused_until", func(v []string) {
		g := &Group{Name: v[0]}
		if n, err := strconv.ParseInt(v[1], 10, 64); err == nil {
			g.Lists = policy.Lists(uint64(n))
		}
		if ms, err := strconv.ParseInt(v[2], 10, 64); err == nil && ms > 0 {
			g.PausedUntil = time.UnixMilli(ms)
		}
		c.groups[g.Name] = g
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", schema.GroupsTable, err)
	}
	byLen := map[int]map[netip.Prefix]*Group{}
	err = src.ScanListTable(schema.GroupClientsTable, "prefix, group_name", func(v []string) {
		p, err := netip.ParsePrefix(v[0])
		g := c.groups[v[1]]
		if err != nil || g == nil || g.Name == schema.DefaultGroup {
			return
		}
		p = p.Masked()
		g.Prefixes = append(g.Prefixes, p)
		if byLen[p.Bits()] == nil {
			byLen[p.Bits()] = map[netip.Prefix]*Group{}
		}
		byLen[p.Bits()][p] = g
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", schema.GroupClientsTable, err)
	}
	for bits, m := range byLen {
		c.byLen = append(c.byLen, prefixesOfLen{bits, m})
	}
	slices.SortFunc(c.byLen, func(a, b prefixesOfLen) int { return b.bits - a.bits })
	c.def = c.groups[schema.DefaultGroup]
	if c.def == nil {
		c.def = &Group{Name: schema.DefaultGroup, Lists: policy.AllLists}
	}
	return c, nil
}

// Group returns the group of a client address: the group of the longest
// prefix holding it, else the group `default`. An IPv4 address mapped into
// IPv6 is the IPv4 address.
func (c *Clients) Group(addr netip.Addr) *Group {
	addr = addr.Unmap()
	for _, l := range c.byLen {
		if l.bits > addr.BitLen() {
			continue
		}
		p, err := addr.Prefix(l.bits)
		if err != nil {
			continue
		}
		if g, ok := l.groups[p]; ok {
			return g
		}
	}
	return c.def
}

// Scope returns the lists that apply to a client of group g at time now:
// the group's lists that are enabled, and the same for blocks unless the
// group is paused. Of a database without lists (nil Clients) every row
// applies to everyone.
func (c *Clients) Scope(g *Group, now func() time.Time) policy.Scope {
	if c == nil {
		return policy.Everyone
	}
	l := g.Lists & c.enabled
	sc := policy.Scope{Lists: l, Blocks: l}
	if !g.PausedUntil.IsZero() && now().Before(g.PausedUntil) {
		sc.Blocks = 0
	}
	return sc
}

// ClientScope is Scope of the group of addr, and the group's name (""
// for a database without groups).
func (c *Clients) ClientScope(addr netip.Addr, now func() time.Time) (policy.Scope, string) {
	if c == nil {
		return policy.Everyone, ""
	}
	g := c.Group(addr)
	return c.Scope(g, now), g.Name
}

// ListName is the name of list id, "" when there is none.
func (c *Clients) ListName(id int) string {
	if id < 0 || id >= schema.MaxLists {
		return ""
	}
	if c == nil {
		if id == 0 {
			return schema.DefaultList
		}
		return ""
	}
	return c.names[id]
}

// Enabled are the lists that are enabled.
func (c *Clients) Enabled() policy.Lists {
	if c == nil {
		return policy.DefaultLists
	}
	return c.enabled
}
