package sqlitefilter

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// listsDB is a database of layout l upgraded to lists, with the lists
// ads (id 1) and kids (id 2), the groups kids (10.1.0.0/16: kids),
// adults (10.2.0.0/16: ads) and guests (10.1.2.0/24: default), and rows:
// tracker.example wildcard in ads, games.example exact in kids, legacy.example
// exact written by a legacy script (default), and an alias in kids.
func listsDB(t *testing.T, l schema.Layout) string {
	t.Helper()
	return listsDBWith(t, l, listIDs{ads: 1, kids: 2})
}

// listIDs are the ids of the lists of listsDBWith; plain makes the file
// one of version 3, whose rows hold plain masks.
type listIDs struct {
	ads, kids int
	plain     bool
}

// listsDBWith is listsDB with the lists ads and kids at the ids given, and
// a block_regex row in ads (^ads-[0-9]+\.).
func listsDBWith(t *testing.T, l schema.Layout, ids listIDs) string {
	t.Helper()
	path := testkit.NewDB(t, l, "wal")
	if ids.plain {
		testkit.WithPlainLists(t, path)
	} else {
		testkit.WithLists(t, path)
	}
	legacy := "INSERT INTO block_exact (Domain) VALUES ('legacy.example')"
	if l == schema.Normalized {
		legacy = "INSERT INTO block_exact VALUES ('legacy.example')" // through the view, as before
	}
	ads, kids := uint64(1)<<ids.ads, uint64(1)<<ids.kids
	value := func(m uint64) int64 {
		if ids.plain {
			return int64(m)
		}
		return schema.EncodeLists(m)
	}
	testkit.ExecSQL(t, path, legacy,
		fmt.Sprintf(`INSERT INTO sqlitefilter_lists (id, name) VALUES (%d, 'ads'), (%d, 'kids')`, ids.ads, ids.kids),
		fmt.Sprintf(`INSERT INTO sqlitefilter_groups (name, lists) VALUES ('kids', %d), ('adults', %d), ('guests', 1)`, int64(kids), int64(ads)),
		`INSERT INTO sqlitefilter_group_clients VALUES ('10.1.0.0/16', 'kids'), ('10.2.0.0/16', 'adults'), ('10.1.2.0/24', 'guests')`,
		listedRow(l, schema.BlockWildcard, "tracker.example", "", value(ads)),
		listedRow(l, schema.BlockExact, "games.example", "", value(kids)),
		listedRow(l, schema.Alias, "intel.com", "keweon.center", value(kids)),
		listedRow(l, schema.BlockRegex, `^ads-[0-9]+\.`, "", value(ads)),
	)
	return path
}

// listedRow is the SQL that writes a row in the given lists, in layout l.
func listedRow(l schema.Layout, t schema.Table, key, target string, lists int64) string {
	if l == schema.Normalized {
		tv := "NULL"
		if target != "" {
			tv = "'" + target + "'"
		}
		return fmt.Sprintf(`INSERT INTO domains (domain) VALUES ('%s') ON CONFLICT DO NOTHING;
			INSERT INTO records (domain_id, record_type, target_value, lists) SELECT domain_id, '%s', %s, %d FROM domains WHERE domain = '%s'`,
			key, t.RecordType(), tv, lists, key)
	}
	if target != "" {
		return fmt.Sprintf("INSERT INTO %s (%s, %s, lists) VALUES ('%s', '%s', %d)", t.Name(), t.KeyColumn(), t.TargetColumn(), key, target, lists)
	}
	return fmt.Sprintf("INSERT INTO %s (%s, lists) VALUES ('%s', %d)", t.Name(), t.KeyColumn(), key, lists)
}

// ask sends an A query for name from the client address from, with an ECS
// option for ecs when not empty, and returns the first answer record.
func (c *chain) ask(t *testing.T, name, from, ecs string) string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	if ecs != "" {
		m.SetEdns0(1232, false)
		o := m.IsEdns0()
		o.Option = append(o.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 32, Address: net.ParseIP(ecs).To4()})
	}
	ctx := context.WithValue(context.Background(), dnsserver.Key{}, c.srv)
	ctx = context.WithValue(ctx, dnsserver.LoopKey{}, 0)
	rec := dnstest.NewRecorder(&test.ResponseWriter{RemoteIP: from})
	c.srv.ServeDNS(ctx, rec, m)
	if rec.Msg == nil || len(rec.Msg.Answer) == 0 {
		return "none"
	}
	switch rr := rec.Msg.Answer[0].(type) {
	case *dns.A:
		return rr.A.String()
	case *dns.CNAME:
		return "cname " + rr.Target
	}
	return rec.Msg.Answer[0].String()
}

const (
	blockedA = "0.0.0.0"
	passed   = "192.0.2.1"
)

// TestListsAndGroupsDecidePerClient, with the lists at low ids and at high
// ones (7 and more are stored as codes), and in a version 3 file, whose
// plain masks the plugin reads as they are.
func TestListsAndGroupsDecidePerClient(t *testing.T) {
	for _, l := range []schema.Layout{schema.PerType, schema.Normalized} {
		for _, ids := range []listIDs{{ads: 1, kids: 2}, {ads: 40, kids: 63}, {ads: 7, kids: 8}, {ads: 63, kids: 6},
			{ads: 40, kids: 63, plain: true}, {ads: 7, kids: 2, plain: true}} {
			t.Run(fmt.Sprintf("%s/%+v", l, ids), func(t *testing.T) {
				listsDecidePerClient(t, listsDBWith(t, l, ids))
			})
		}
	}
}

func listsDecidePerClient(t *testing.T, path string) {
	t.Helper()
	c := newChain(t, path, "trusted_forwarders 127.0.0.1/32 ::1\nrefresh 50ms", false)
	tests := []struct {
		what, name, from, ecs, want string
	}{
		{"a client in no group gets every enabled list", "x.tracker.example", "192.0.2.9", "", blockedA},
		{"a client in no group gets every enabled list", "games.example", "192.0.2.9", "", blockedA},
		{"a legacy insert is in default", "legacy.example", "192.0.2.9", "", blockedA},
		{"kids get their list", "games.example", "10.1.0.5", "", blockedA},
		{"kids do not get ads", "x.tracker.example", "10.1.0.5", "", passed},
		{"kids do not get default", "legacy.example", "10.1.0.5", "", passed},
		{"an alias of kids applies to kids", "www.intel.com", "10.1.0.5", "", "cname www.keweon.center."},
		{"an alias of kids does not apply to adults", "www.intel.com", "10.2.0.5", "", passed},
		{"adults get ads", "x.tracker.example", "10.2.0.5", "", blockedA},
		{"adults do not get kids", "games.example", "10.2.0.5", "", passed},
		{"the longest prefix wins", "games.example", "10.1.2.3", "", passed},
		{"the longest prefix wins", "legacy.example", "10.1.2.3", "", blockedA},
		{"ECS from a trusted forwarder names the client", "games.example", "127.0.0.1", "10.2.0.5", passed},
		{"ECS from a trusted forwarder names the client", "x.tracker.example", "127.0.0.1", "10.2.0.5", blockedA},
		{"ECS from anyone else is ignored", "x.tracker.example", "10.1.0.5", "10.2.0.5", passed},
		{"a trusted forwarder without ECS is the client", "games.example", "127.0.0.1", "", blockedA},
		{"a regex of ads applies to adults", "ads-12.example", "10.2.0.5", "", blockedA},
		{"a regex of ads does not apply to kids", "ads-12.example", "10.1.0.5", "", passed},
	}
	for _, tc := range tests {
		if got := c.ask(t, tc.name, tc.from, tc.ecs); got != tc.want {
			t.Errorf("%s: %s from %s (ECS %q) = %s, want %s", tc.what, tc.name, tc.from, tc.ecs, got, tc.want)
		}
	}
}

// TestListDisableAndPauseApplyWithinRefresh: disabling a list takes its
// rows out of every group; a pause turns the group's blocks off, keeps its
// aliases, and ends by itself.
func TestListDisableAndPauseApplyWithinRefresh(t *testing.T) {
	path := listsDB(t, schema.PerType)
	c := newChain(t, path, "refresh 50ms", true)
	if got := c.ask(t, "x.tracker.example", "192.0.2.9", ""); got != blockedA {
		t.Fatalf("before disable: %s", got)
	}
	testkit.ExecSQL(t, path, "UPDATE sqlitefilter_lists SET enabled = 0 WHERE name = 'ads'")
	testkit.Eventually(t, "the disabled list to stop blocking", 5*time.Second, func() bool {
		return c.ask(t, "x.tracker.example", "192.0.2.9", "") == passed
	})
	if got := c.ask(t, "x.tracker.example", "10.2.0.5", ""); got != passed {
		t.Errorf("a disabled list still blocks for its group: %s", got)
	}
	until := time.Now().Add(1500 * time.Millisecond).UnixMilli()
	testkit.ExecSQL(t, path, fmt.Sprintf("UPDATE sqlitefilter_groups SET paused_until = %d WHERE name = 'kids'", until))
	testkit.Eventually(t, "the pause to apply", 5*time.Second, func() bool {
		return c.ask(t, "games.example", "10.1.0.5", "") == passed
	})
	if got := c.ask(t, "www.intel.com", "10.1.0.5", ""); got != "cname www.keweon.center." {
		t.Errorf("a paused group lost its alias: %s", got)
	}
	if got := c.ask(t, "games.example", "192.0.2.9", ""); got != blockedA {
		t.Errorf("the pause of kids reached the default group: %s", got)
	}
	testkit.Eventually(t, "the pause to end by itself", 5*time.Second, func() bool {
		return c.ask(t, "games.example", "10.1.0.5", "") == blockedA
	})
	if time.Now().UnixMilli() < until {
		t.Errorf("the pause ended early")
	}
}

// TestVerdictNamesTheList: the verdict, the metadata and the metric label
// name the list of the row that decided.
func TestVerdictNamesTheList(t *testing.T) {
	c := newChain(t, listsDB(t, schema.PerType), "", false)
	var ds decideStats
	v, err := c.f.decideFor("x.tracker.example", netip4("10.2.0.5"), c.f.rules.Load(), &ds, false)
	if err != nil {
		t.Fatal(err)
	}
	if v.Action != policy.ActionBlock || listName(v, &ds) != "ads" || ds.group != "adults" || metricList(v, &ds) != "ads" {
		t.Errorf("verdict %+v, list %q, group %q, metric %q", v, listName(v, &ds), ds.group, metricList(v, &ds))
	}
	v, _ = c.f.decideFor("legacy.example", netip4("192.0.2.9"), c.f.rules.Load(), &ds, false)
	if listName(v, &ds) != "default" || ds.group != "default" {
		t.Errorf("legacy row: list %q, group %q", listName(v, &ds), ds.group)
	}
	v, _ = c.f.decideFor("nothing.example", netip4("192.0.2.9"), c.f.rules.Load(), &ds, false)
	if listName(v, &ds) != "" || metricList(v, &ds) != "-" {
		t.Errorf("pass: list %q, metric %q", listName(v, &ds), metricList(v, &ds))
	}
	if got := metricList(policy.Verdict{Action: policy.ActionBlock, Lists: 1 << 40}, &ds); got != "other" {
		t.Errorf("list 40 is labelled %q, want other", got)
	}
}

// TestDatabaseWithoutListsGivesEveryRowToEveryone: today's files have no
// lists column and no groups: every client gets every row.
func TestDatabaseWithoutListsGivesEveryRowToEveryone(t *testing.T) {
	c := newChain(t, testkit.NewDB(t, schema.PerType, "wal", exact("ads.example.com")...), "", false)
	for _, from := range []string{"10.1.0.5", "192.0.2.9"} {
		if got := c.ask(t, "ads.example.com", from, ""); got != blockedA {
			t.Errorf("from %s: %s", from, got)
		}
	}
}

func netip4(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestAnswerChecksDecideInTheClientsScope: the names of an answer's chain
// are decided with the lists of the client's group, as its query name is,
// and block_ip rows belong to lists like any other row: a chain name in
// kids blocks for kids only, an address in ads for adults only, both for a
// client in no group; a paused group gets neither.
func TestAnswerChecksDecideInTheClientsScope(t *testing.T) {
	for _, l := range []schema.Layout{schema.PerType, schema.Normalized} {
		t.Run(l.String(), func(t *testing.T) {
			path := listsDB(t, l)
			testkit.ExecSQL(t, path,
				listedRow(l, schema.BlockWildcard, "tracker-cdn.test", "", 4),
				listedRow(l, schema.BlockIPv4, "198.18.0.0/16", "", 2),
			)
			c := newChain(t, path, "refresh 50ms", false)
			const cnamePassed, ipPassed = "cname shop.tracker-cdn.test.", "198.18.0.66"
			tests := []struct {
				what, name, from, want string
			}{
				{"a chain name in kids blocks for kids", "metrics.shop.test", "10.1.0.5", blockedA},
				{"a chain name in kids does not block for adults", "metrics.shop.test", "10.2.0.5", cnamePassed},
				{"a chain name in kids blocks for a client in no group", "metrics.shop.test", "192.0.2.9", blockedA},
				{"an address in ads blocks for adults", "ip.test", "10.2.0.5", blockedA},
				{"an address in ads does not block for kids", "ip.test", "10.1.0.5", ipPassed},
				{"an address in ads does not block for guests", "ip.test", "10.1.2.3", ipPassed},
				{"an address in ads blocks for a client in no group", "ip.test", "192.0.2.9", blockedA},
			}
			for _, tc := range tests {
				if got := c.ask(t, tc.name, tc.from, ""); got != tc.want {
					t.Errorf("%s: %s from %s = %s, want %s", tc.what, tc.name, tc.from, got, tc.want)
				}
			}
			// The verdict names the list of the row that blocked the answer.
			counter := requestCount.WithLabelValues(c.srv.Addr, "", "block_cname", "kids")
			before := testutil.ToFloat64(counter)
			if got := c.ask(t, "metrics.shop.test", "10.1.0.5", ""); got != blockedA {
				t.Fatalf("metrics.shop.test from kids = %s", got)
			}
			if d := testutil.ToFloat64(counter) - before; d != 1 {
				t.Errorf("requests_total{action=block_cname,list=kids} grew by %v, want 1", d)
			}
			until := time.Now().Add(time.Hour).UnixMilli()
			testkit.ExecSQL(t, path, fmt.Sprintf("UPDATE sqlitefilter_groups SET paused_until = %d WHERE name IN ('kids', 'adults')", until))
			testkit.Eventually(t, "the pause", 10*time.Second, func() bool {
				return c.ask(t, "metrics.shop.test", "10.1.0.5", "") == cnamePassed && c.ask(t, "ip.test", "10.2.0.5", "") == ipPassed
			})
		})
	}
}

// A version 3 file re-encoded in place while the server reads it (the
// admin command's first write does that) keeps every verdict: the server
// opens the file anew and reads its rows as codes from then on.
func TestListsReEncodedInPlaceKeepVerdicts(t *testing.T) {
	path := listsDBWith(t, schema.PerType, listIDs{ads: 40, kids: 63, plain: true})
	c := newChain(t, path, "refresh 50ms", false)
	checks := []struct{ name, from, want string }{
		{"x.tracker.example", "10.2.0.5", blockedA},
		{"x.tracker.example", "10.1.0.5", passed},
		{"games.example", "10.1.0.5", blockedA},
		{"games.example", "10.2.0.5", passed},
		{"ads-1.example", "10.2.0.5", blockedA},
	}
	ask := func(when string) {
		t.Helper()
		for _, tc := range checks {
			if got := c.ask(t, tc.name, tc.from, ""); got != tc.want {
				t.Errorf("%s: %s from %s = %s, want %s", when, tc.name, tc.from, got, tc.want)
			}
		}
	}
	ask("version 3")
	db := testkit.OpenRW(t, path)
	if changed, err := schema.UpgradeListCodes(db); err != nil || !changed {
		t.Fatalf("UpgradeListCodes = %v, %v", changed, err)
	}
	db.Close()
	testkit.ExecSQL(t, path, "INSERT INTO block_exact (Domain, lists) VALUES ('new.example', -41)") // list 40, ads
	testkit.Eventually(t, "the new row in ads to block", 5*time.Second, func() bool {
		return c.ask(t, "new.example", "10.2.0.5", "") == blockedA
	})
	ask("re-encoded")
	if got := c.ask(t, "new.example", "10.1.0.5", ""); got != passed {
		t.Errorf("new.example, in ads only, for kids = %s, want %s", got, passed)
	}
}
