package test

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// queryFrom sends an A query for name from the loopback address from (every
// 127.0.0.0/8 address is local), with an ECS option for ecs when not empty,
// and returns the first answer's address ("none" without one).
func queryFrom(t *testing.T, addr, from, name, ecs string) string {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, dns.TypeA)
	if ecs != "" {
		m.SetEdns0(1232, false)
		o := m.IsEdns0()
		o.Option = append(o.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 32, Address: net.ParseIP(ecs).To4()})
	}
	c := &dns.Client{Net: "udp", Timeout: 3 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(from)}}}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s from %s: %v", name, from, err)
	}
	if len(r.Answer) == 0 {
		return "none"
	}
	if a, ok := r.Answer[0].(*dns.A); ok {
		return a.A.String()
	}
	return r.Answer[0].String()
}

// TestClientGroupsEndToEnd: through the real binary, 127.0.0.2 is in the
// group kids, which has the lists kids and late (id 63) only; 127.0.0.1 is
// in no group and gets every enabled list (mid, id 40, too); ECS from the
// trusted 127.0.0.1 names the client; a pause committed while the server
// runs applies within refresh. The requests metric and the log name the
// list (the metric's label names the first few lists, "other" beyond).
func TestClientGroupsEndToEnd(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	db := testkit.WithLists(t, testkit.NewDB(t, schema.PerType, "wal"),
		"INSERT INTO block_exact (Domain) VALUES ('legacy.test')",
		"INSERT INTO sqlitefilter_lists (id, name) VALUES (1, 'kids'), (40, 'mid'), (63, 'late')",
		"INSERT INTO block_wildcard (Domain, lists) VALUES ('games.test', 2)",
		fmt.Sprintf("INSERT INTO block_exact (Domain, lists) VALUES ('late.test', %d), ('mid.test', %d)", schema.EncodeLists(1<<63), schema.EncodeLists(1<<40)),
		fmt.Sprintf("INSERT INTO sqlitefilter_groups (name, lists) VALUES ('kids', %d)", 2|int64(-1)<<63),
		"INSERT INTO sqlitefilter_group_clients VALUES ('127.0.0.2/32', 'kids')")
	srv, metrics := startDecisionServer(t, db, up.Addr, up.Addr, "trusted_forwarders 127.0.0.1", "refresh 100ms")
	tests := []struct{ from, name, ecs, want string }{
		{"127.0.0.1", "www.games.test.", "", "0.0.0.0"},
		{"127.0.0.1", "legacy.test.", "", "0.0.0.0"},
		{"127.0.0.2", "www.games.test.", "", "0.0.0.0"},
		{"127.0.0.2", "legacy.test.", "", upstreamA},
		{"127.0.0.1", "legacy.test.", "127.0.0.2", upstreamA},
		{"127.0.0.2", "legacy.test.", "10.9.9.9", upstreamA}, // ECS from an untrusted source: ignored
		{"127.0.0.2", "late.test.", "", "0.0.0.0"},
		{"127.0.0.2", "mid.test.", "", upstreamA},
		{"127.0.0.1", "mid.test.", "", "0.0.0.0"},
	}
	for _, tc := range tests {
		if got := queryFrom(t, srv.Addr, tc.from, tc.name, tc.ecs); got != tc.want {
			t.Errorf("%s from %s (ECS %q) = %s, want %s", tc.name, tc.from, tc.ecs, got, tc.want)
		}
	}
	body := scrape(t, metrics)
	if !strings.Contains(body, `action="block",list="kids"`) || !strings.Contains(body, `action="block",list="default"`) ||
		!strings.Contains(body, `action="block",list="other"`) { // lists above the label's few ids: late and mid
		t.Errorf("requests_total by list missing:\n%s", grepLines(body, "requests_total"))
	}
	until := time.Now().Add(time.Hour).UnixMilli()
	testkit.ExecSQL(t, db, "UPDATE sqlitefilter_groups SET paused_until = "+strconv.FormatInt(until, 10)+" WHERE name = 'kids'")
	if !testkit.Poll(5*time.Second, func() bool { return queryFrom(t, srv.Addr, "127.0.0.2", "x.games.test.", "") == upstreamA }) {
		t.Error("the pause did not apply within refresh")
	}
	if got := queryFrom(t, srv.Addr, "127.0.0.1", "x.games.test.", ""); got != "0.0.0.0" {
		t.Errorf("the pause of kids reached 127.0.0.1: %s", got)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestViewPerGroupEndToEnd: the Corefile way, CoreDNS's view plugin picking
// a server block (and so a database) by client, combined with the groups of
// the database it picks. 127.0.0.2 and 127.0.0.3 reach the block of
// kids.db; in kids.db, 127.0.0.2 is in the group strict (lists default and
// strict) and everyone else in its group default (list default only).
// Everyone else reaches the block of everyone.db.
func TestViewPerGroupEndToEnd(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	kids := testkit.WithLists(t, testkit.NewDB(t, schema.PerType, "wal"),
		"INSERT INTO block_wildcard (Domain) VALUES ('games.test')",
		"INSERT INTO sqlitefilter_lists (id, name) VALUES (1, 'strict')",
		"INSERT INTO block_exact (Domain, lists) VALUES ('video.test', 2)",
		"INSERT INTO sqlitefilter_groups (name, lists) VALUES ('strict', 3), ('default', 1)",
		"INSERT INTO sqlitefilter_group_clients VALUES ('127.0.0.2/32', 'strict')")
	everyone := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockExact("legacy.test")...)
	srv := startServer(t, fmt.Sprintf(`.:{PORT} {
    bind 127.0.0.1
    view kids {
        expr incidr(client_ip(), '127.0.0.2/31')
    }
    sqlitefilter %s
    forward . %s
}
.:{PORT} {
    bind 127.0.0.1
    sqlitefilter %s
    forward . %s
}
`, kids, up.Addr, everyone, up.Addr))
	tests := []struct{ from, name, want string }{
		{"127.0.0.2", "www.games.test.", "0.0.0.0"},
		{"127.0.0.2", "video.test.", "0.0.0.0"},
		{"127.0.0.2", "legacy.test.", upstreamA},
		{"127.0.0.3", "www.games.test.", "0.0.0.0"},
		{"127.0.0.3", "video.test.", upstreamA},
		{"127.0.0.1", "legacy.test.", "0.0.0.0"},
		{"127.0.0.1", "www.games.test.", upstreamA},
		{"127.0.0.1", "video.test.", upstreamA},
	}
	// Both blocks must have their files open and their rules loaded before
	// the table is checked.
	if !testkit.Poll(20*time.Second, func() bool {
		return queryFrom(t, srv.Addr, "127.0.0.2", "x.games.test.", "") == "0.0.0.0" &&
			queryFrom(t, srv.Addr, "127.0.0.1", "legacy.test.", "") == "0.0.0.0"
	}) {
		t.Fatalf("the two blocks never both filtered:\n%s", srv.Output())
	}
	for _, tc := range tests {
		if got := queryFrom(t, srv.Addr, tc.from, tc.name, ""); got != tc.want {
			t.Errorf("%s from %s = %s, want %s", tc.name, tc.from, got, tc.want)
		}
	}
}
