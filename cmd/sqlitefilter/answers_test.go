package main

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

func TestImportBlockedAddressesCanonicalInBothLayouts(t *testing.T) {
	list := "# trackers' addresses\n192.0.2.66\n198.51.100.9/24 # masked to the /24\n192.0.2.67/32\n010.0.0.1\n2001:db8::1\n"
	list6 := "2001:DB8:0:0::66\n2001:db8:bad::/48\n192.0.2.1\n"
	for _, l := range []schema.Layout{schema.PerType, schema.Normalized} {
		db := testkit.NewDB(t, l, "wal")
		out, _, err := importInto(t, db, schema.BlockIPv4, formatAuto, false, writeFile(t, "v4.txt", []byte(list)))
		if err != nil || !strings.Contains(out, "added 3") || !strings.Contains(out, "invalid 2") {
			t.Fatalf("%s: import block_ip_v4: %q, %v", l, out, err)
		}
		if _, _, err := importInto(t, db, schema.BlockIPv6, formatPlain, false, writeFile(t, "v6.txt", []byte(list6))); err != nil {
			t.Fatal(err)
		}
		if got, want := rows(t, db, schema.BlockIPv4), []string{"192.0.2.66", "192.0.2.67", "198.51.100.0/24"}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: block_ip_v4 %q, want %q", l, got, want)
		}
		if got, want := rows(t, db, schema.BlockIPv6), []string{"2001:db8::66", "2001:db8:bad::/48"}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: block_ip_v6 %q, want %q", l, got, want)
		}
		if err := runCheck([]string{db}); err != nil {
			t.Errorf("%s: check: %v", l, err)
		}
	}
}

func TestAddUpgradesAVersion1File(t *testing.T) {
	db := testkit.NewDB(t, schema.Normalized, "wal")
	// What version 1 created: no block_ip views, and a records table whose
	// CHECK does not admit their record types.
	testkit.ExecSQL(t, db, `DROP VIEW block_ip_v4; DROP VIEW block_ip_v6;
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, ',
        ''block_ip_v4'', ''block_ip_v6''', '') WHERE name = 'records';
PRAGMA writable_schema = RESET;`)
	if err := runAdd([]string{db, "--table", "block_ip_v4", "192.0.2.66"}); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, db, schema.BlockIPv4); len(got) != 1 || got[0] != "192.0.2.66" {
		t.Errorf("block_ip_v4 %q", got)
	}
}

func TestExplainShowsWhyAChainOrAnAddressBlocks(t *testing.T) {
	db := testkit.NewDB(t, schema.PerType, "wal", testkit.Rows(
		testkit.BlockWildcard("tracker-cdn.example"),
		testkit.Allow("good.example"),
		testkit.BlockIPv4("192.0.2.0/24"),
	)...)
	sh, err := store.OpenShards([]string{db}, explainOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	tests := []struct {
		name   string
		answer explainAnswer
		action policy.Action
		rule   string
		what   string
	}{
		{"metrics.shop.example", explainAnswer{names: []string{"cdn.shop.example", "shop.tracker-cdn.example"}},
			policy.ActionBlockCNAME, "block_wildcard tracker-cdn.example", "shop.tracker-cdn.example"},
		{"metrics.shop.example", explainAnswer{addrs: []netip.Addr{netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("192.0.2.9")}},
			policy.ActionBlockIP, "block_ip_v4 192.0.2.0/24", "192.0.2.9"},
		{"metrics.shop.example", explainAnswer{names: []string{"cdn.shop.example"}}, policy.ActionPass, "fqdn_dns_allow ", ""}, // the zero Rule
		{"good.example", explainAnswer{names: []string{"shop.tracker-cdn.example"}}, policy.ActionAllow, "fqdn_dns_allow good.example", ""},
	}
	for _, tc := range tests {
		v, err := explain(sh, tc.name, tc.answer)
		if err != nil {
			t.Fatal(err)
		}
		if v.Action != tc.action || v.Rule.String() != tc.rule || v.Answer != tc.what {
			t.Errorf("explain %s %+v = %s %q %q, want %s %q %q", tc.name, tc.answer, v.Action, v.Rule, v.Answer, tc.action, tc.rule, tc.what)
		}
	}
	if err := runExplain([]string{db, "metrics.shop.example", "--cname", "cdn.shop.example,Shop.Tracker-CDN.example.", "--addr", "192.0.2.1"}); err != nil {
		t.Error(err)
	}
	if err := runExplain([]string{db, "x.example", "--addr", "not-an-address"}); err == nil {
		t.Error("explain accepted a bad --addr")
	}
}
