package main

import (
	"bytes"
	"context"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

const rpzHead = "$TTL 30\n@ SOA localhost. root.localhost. 1 3600 600 86400 30\n  NS localhost.\n"

// importRPZFile runs import --format rpz of zone into a new database of
// layout and returns the database, the summary and the error output.
func importRPZFile(t *testing.T, layout schema.Layout, zone, origin string) (string, string, string) {
	t.Helper()
	db := testkit.NewDB(t, layout, "wal")
	var out, errOut bytes.Buffer
	job := importJob{format: formatRPZ, batch: defaultBatch, origin: origin, stdout: &out, stderr: &errOut}
	if err := job.run(context.Background(), db, []string{writeFile(t, "zone.rpz", []byte(zone))}); err != nil {
		t.Fatalf("import: %v\n%s", err, errOut.String())
	}
	return db, out.String(), errOut.String()
}

// rpzRows is every row of the tables an RPZ import writes, "table key
// [target]" each.
func rpzRows(t *testing.T, path string) []string {
	t.Helper()
	db := testkit.OpenRO(t, path)
	defer db.Close()
	var out []string
	for _, tbl := range rpzTables {
		pairs, err := readPairs(db, tbl)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range sortedKeys(pairs) {
			out = append(out, strings.TrimSpace(tbl.Name()+" "+k+" "+pairs[k]))
		}
	}
	return out
}

func exportZone(t *testing.T, path, origin string) (string, string) {
	t.Helper()
	db := testkit.OpenRO(t, path)
	defer db.Close()
	var out, errOut bytes.Buffer
	if err := exportRPZ(db, origin, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String()
}

func TestRPZImportMapsTriggersToRows(t *testing.T) {
	tests := []struct {
		name    string
		zone    string
		want    []string
		skipped []string // reasons in the summary
	}{
		{"name and *.name block are one wildcard row",
			"ads.example CNAME .\n*.ads.example CNAME .\n",
			[]string{"block_wildcard ads.example"}, nil},
		{"NXDOMAIN, NODATA, drop and sinkhole local data all block",
			"a.example CNAME .\nb.example CNAME *.\nc.example CNAME rpz-drop.\nd.example A 0.0.0.0\nd.example AAAA ::\ne.example A 127.0.0.1\n",
			[]string{"block_exact a.example", "block_exact b.example", "block_exact c.example", "block_exact d.example", "block_exact e.example"}, nil},
		{"*.name alone blocks name too",
			"*.ads.example CNAME .\n",
			[]string{"block_wildcard ads.example"}, nil},
		{"passthru is an allow of the subtree",
			"ok.example CNAME rpz-passthru.\n*.ok2.example CNAME rpz-passthru.\n",
			[]string{"fqdn_dns_allow ok.example", "fqdn_dns_allow ok2.example"}, nil},
		{"passthru of a name alone above blocks is skipped, the blocks stay",
			"pt.example CNAME rpz-passthru.\n*.pt.example CNAME .\n",
			[]string{"block_wildcard pt.example"}, []string{"rpz-passthru of a name with blocks below it 1"}},
		{"allow under a blocked wildcard",
			"*.dc.example CNAME .\ndc.example CNAME .\ngood.dc.example CNAME rpz-passthru.\n",
			[]string{"fqdn_dns_allow good.dc.example", "block_wildcard dc.example"}, nil},
		{"a block below a passthru never applies here",
			"ok.example CNAME rpz-passthru.\n*.ok.example CNAME rpz-passthru.\nads.ok.example CNAME .\n*.t.ok.example CNAME .\n",
			[]string{"fqdn_dns_allow ok.example"}, []string{"block below rpz-passthru 2"}},
		{"blocks and passthrus covered by a wildcard above are dropped",
			"*.a.example CNAME .\n*.b.a.example CNAME .\nc.a.example CNAME .\n*.p.example CNAME rpz-passthru.\nq.p.example CNAME rpz-passthru.\n",
			[]string{"fqdn_dns_allow p.example", "block_wildcard a.example"}, []string{"block below a *.name block 2", "below another rpz-passthru 1"}},
		{"CNAME to a name is an alias keeping sub-labels",
			"intel.example CNAME keweon.example.\n*.intel.example CNAME *.keweon.example.\nother.example CNAME target.example.\n",
			[]string{"domain_alias intel.example keweon.example", "domain_alias other.example target.example"}, nil},
		{"a CNAME below a block or a passthru has no effect",
			"*.b.example CNAME .\nx.b.example CNAME t.example.\n*.p.example CNAME rpz-passthru.\nx.p.example CNAME t.example.\n",
			[]string{"fqdn_dns_allow p.example", "block_wildcard b.example"}, []string{"CNAME below a *.name block 1", "CNAME below rpz-passthru 1"}},
		{"rpz-ip triggers that block go to block_ip",
			"32.4.3.2.1.rpz-ip CNAME .\n24.0.2.0.192.rpz-ip CNAME rpz-drop.\n128.1.zz.db8.2001.rpz-ip CNAME .\n48.zz.db8.2001.rpz-ip A 0.0.0.0\n32.5.3.2.1.rpz-ip CNAME rpz-passthru.\n",
			[]string{"block_ip_v4 1.2.3.4", "block_ip_v4 192.0.2.0/24", "block_ip_v6 2001:db8::/48", "block_ip_v6 2001:db8::1"}, []string{"rpz-ip rpz-passthru 1"}},
		{"what sqlitefilter cannot express is skipped by kind",
			"l.example A 10.1.2.3\nt.example TXT \"x\"\nns.example.rpz-nsdname CNAME .\n32.1.0.0.10.rpz-nsip CNAME .\n24.0.0.10.rpz-client-ip CNAME .\ntcp.example CNAME rpz-tcp-only.\n*.w.example CNAME fixed.example.\n",
			nil, []string{"local-data 2", "rpz-nsdname trigger 1", "rpz-nsip trigger 1", "rpz-client-ip trigger 1", "rpz-tcp-only 1", "*.name CNAME to one name 1"}},
	}
	for _, layout := range []schema.Layout{schema.PerType, schema.Normalized} {
		for _, tc := range tests {
			t.Run(layout.String()+"/"+tc.name, func(t *testing.T) {
				db, out, _ := importRPZFile(t, layout, rpzHead+tc.zone, "")
				if got := rpzRows(t, db); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("rows\n%q\nwant\n%q\n%s", got, tc.want, out)
				}
				for _, s := range tc.skipped {
					if !strings.Contains(out, s) {
						t.Errorf("summary lacks %q:\n%s", s, out)
					}
				}
			})
		}
	}
}

func TestRPZImportReportsTriggersAndRowsByTable(t *testing.T) {
	_, out, _ := importRPZFile(t, schema.PerType, rpzHead+"a.example CNAME .\nb.example CNAME rpz-drop.\n*.c.example CNAME .\nd.example CNAME rpz-passthru.\n", "")
	for _, want := range []string{
		"rpz: triggers: NXDOMAIN 2, rpz-drop 1, rpz-passthru 1",
		"rpz: rows: fqdn_dns_allow 1, block_exact 2, block_wildcard 1",
		"widened to what sqlitefilter's rules cover: *.name block also blocks name 1, name passthru also allows its subtree 1",
		"added 4, already present 0, invalid 0, skipped 0",
		"note: NODATA (CNAME *.) and rpz-drop triggers are imported as blocks",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestRPZImportOrigin(t *testing.T) {
	tests := []struct {
		name, zone, origin string
		want               []string
	}{
		{"relative names without $ORIGIN", rpzHead + "ads.example CNAME .\n", "", []string{"block_exact ads.example"}},
		{"$ORIGIN", "$ORIGIN rpz.test.\n" + rpzHead + "ads.example CNAME .\n", "", []string{"block_exact ads.example"}},
		{"absolute names under the SOA's owner", "rpz.test. 30 SOA localhost. root.localhost. 1 3600 600 86400 30\nads.example.rpz.test. 30 CNAME .\n", "", []string{"block_exact ads.example"}},
		{"--origin", rpzHead + "ads.example CNAME .\n", "rpz.test", []string{"block_exact ads.example"}},
		{"--origin for absolute names", "ads.example.rpz.test. 30 CNAME .\n", "rpz.test.", []string{"block_exact ads.example"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, out, errOut := importRPZFile(t, schema.PerType, tc.zone, tc.origin)
			if got := rpzRows(t, db); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("rows %q, want %q\n%s%s", got, tc.want, out, errOut)
			}
		})
	}
}

func TestRPZImportRejectsAZoneThatDoesNotParse(t *testing.T) {
	db := testkit.NewDB(t, schema.PerType, "wal")
	var out, errOut bytes.Buffer
	job := importJob{format: formatRPZ, batch: defaultBatch, stdout: &out, stderr: &errOut}
	err := job.run(context.Background(), db, []string{writeFile(t, "bad.rpz", []byte(rpzHead+"a.example CNAME .\nb.example 30 IN BOGUS x\n"))})
	if err == nil || !strings.Contains(err.Error(), "bad.rpz") {
		t.Fatalf("error %v, want one naming the file", err)
	}
	if got := rpzRows(t, db); len(got) != 0 {
		t.Errorf("rows %q after a failed import", got)
	}
}

func TestRPZImportTakesNoTable(t *testing.T) {
	db := testkit.NewDB(t, schema.PerType, "wal")
	_, _, err := importInto(t, db, schema.BlockExact, formatRPZ, false, writeFile(t, "z.rpz", []byte(rpzHead)))
	if !isUsage(err) {
		t.Fatalf("error %v, want a usage error", err)
	}
}

// TestRPZRoundTrip: an RPZ file imported, exported and imported again gives
// the rows of the first import.
func TestRPZRoundTrip(t *testing.T) {
	tests := []struct{ name, zone string }{
		{"blocks", "a.example CNAME .\nb.example CNAME *.\n*.c.example CNAME .\nc.example CNAME .\n*.d.example CNAME rpz-drop.\ne.example A 0.0.0.0\n"},
		{"allow under a wildcard block, block under it again",
			"*.dc.example CNAME .\ngood.dc.example CNAME rpz-passthru.\n*.good.dc.example CNAME rpz-passthru.\nx.y.z.dc.example CNAME rpz-passthru.\n"},
		{"exact blocks below a wildcard block and below an alias",
			"*.w.example CNAME .\nx.w.example CNAME .\nintel.example CNAME keweon.example.\n*.intel.example CNAME *.keweon.example.\nads.sub.intel.example CNAME .\nok.x.intel.example CNAME rpz-passthru.\n"},
		{"passthru alone, blocks under passthru",
			"p.example CNAME rpz-passthru.\n*.q.example CNAME rpz-passthru.\nads.q.example CNAME .\n"},
		{"aliases nested", "a.example CNAME t.example.\n*.a.example CNAME *.t.example.\nb.a.example CNAME u.example.\n*.b.a.example CNAME *.u.example.\n"},
		{"rpz-ip", "32.4.3.2.1.rpz-ip CNAME .\n16.0.0.1.10.rpz-ip CNAME .\n128.1.zz.db8.2001.rpz-ip CNAME .\n64.zz.1.db8.2001.rpz-ip CNAME .\n128.1.zz.rpz-ip CNAME .\n128.zz.1.rpz-ip CNAME .\n"},
		{"skipped kinds", "l.example A 10.1.2.3\nns.example.rpz-nsdname CNAME .\ntcp.example CNAME rpz-tcp-only.\nkept.example CNAME .\n"},
	}
	for _, layout := range []schema.Layout{schema.PerType, schema.Normalized} {
		for _, tc := range tests {
			t.Run(layout.String()+"/"+tc.name, func(t *testing.T) {
				first, _, _ := importRPZFile(t, layout, rpzHead+tc.zone, "")
				want := rpzRows(t, first)
				if len(want) == 0 {
					t.Fatal("the zone gave no rows")
				}
				zone, _ := exportZone(t, first, defaultRPZOrigin)
				second, out, errOut := importRPZFile(t, layout, zone, "")
				if got := rpzRows(t, second); !reflect.DeepEqual(got, want) {
					t.Errorf("after the round trip\n%q\nwant\n%q\nzone:\n%s%s%s", got, want, zone, out, errOut)
				}
			})
		}
	}
}

func TestRPZExportLeavesOutRowsWithoutEffect(t *testing.T) {
	db := testkit.NewDB(t, schema.PerType, "wal", testkit.Rows(
		testkit.Allow("allowed.example"),
		testkit.BlockExact("ads.allowed.example", "blocked.example"),
		testkit.BlockWildcard("t.allowed.example", "dc.example"),
		testkit.Alias("x.dc.example", "y.example"),
		testkit.Alias("intel.example", "keweon.example"),
		testkit.BlockRegex("^ads"),
		testkit.DNSBlock("evil.example"),
		testkit.RewriteV4("192.0.2.1", "192.0.2.2"),
	)...)
	zone, errOut := exportZone(t, db, "zone.test")
	for _, want := range []string{
		"$ORIGIN zone.test.\n",
		"allowed.example CNAME rpz-passthru.\n*.allowed.example CNAME rpz-passthru.\n",
		"blocked.example CNAME .\n",
		"dc.example CNAME .\n*.dc.example CNAME .\n",
		"intel.example CNAME keweon.example.\n*.intel.example CNAME *.keweon.example.\n",
	} {
		if !strings.Contains(zone, want) {
			t.Errorf("zone lacks %q:\n%s", want, zone)
		}
	}
	for _, absent := range []string{"ads.allowed.example", "t.allowed.example", "x.dc.example", "evil", "^ads"} {
		if strings.Contains(zone, absent) {
			t.Errorf("zone holds %q:\n%s", absent, zone)
		}
	}
	for _, want := range []string{
		"not exportable as RPZ: block_regex 1 rows", "not exportable as RPZ: fqdn_dns_block 1 rows", "not exportable as RPZ: ip_rewrite_v4 1 rows",
		"not exported: block_exact at or below an allowed name (no effect) 1 rows",
		"not exported: block_wildcard at or below an allowed name (no effect) 1 rows",
		"not exported: domain_alias at or below a block_wildcard name (no effect) 1 rows",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// TestRPZExportGivesNamesBelowAWildcardTheirOwn: a resolver that applies a
// wildcard only at the closest encloser must still block what the wildcard
// above blocks, next to the names the zone holds below it.
func TestRPZExportGivesNamesBelowAWildcardTheirOwn(t *testing.T) {
	db := testkit.NewDB(t, schema.PerType, "wal", testkit.Rows(
		testkit.BlockWildcard("example.com"),
		testkit.Allow("a.b.example.com"),
		testkit.Alias("intel.example", "keweon.example"),
		testkit.BlockExact("ads.sub.intel.example"),
	)...)
	zone, _ := exportZone(t, db, defaultRPZOrigin)
	for _, want := range []string{
		"*.b.example.com CNAME .\n",
		"*.a.b.example.com CNAME rpz-passthru.\n",
		"*.sub.intel.example CNAME *.sub.keweon.example.\n",
		"*.ads.sub.intel.example CNAME *.ads.sub.keweon.example.\n",
	} {
		if !strings.Contains(zone, want) {
			t.Errorf("zone lacks %q:\n%s", want, zone)
		}
	}
}

func TestRPZIPOwnerAndBack(t *testing.T) {
	tests := []struct{ key, owner string }{
		{"1.2.3.4", "32.4.3.2.1.rpz-ip"},
		{"10.0.0.0/8", "8.0.0.0.10.rpz-ip"},
		{"2001:db8::1", "128.1.zz.db8.2001.rpz-ip"},
		{"2001:db8::/32", "32.zz.db8.2001.rpz-ip"},
		{"::1", "128.1.zz.rpz-ip"},
		{"2001:db8:0:1:0:0:0:1", "128.1.zz.1.0.db8.2001.rpz-ip"},
		{"2001:db8:1:2:3:4:5:6", "128.6.5.4.3.2.1.db8.2001.rpz-ip"},
	}
	for _, tc := range tests {
		owner, err := rpzIPOwner(tc.key)
		if err != nil || owner != tc.owner {
			t.Errorf("rpzIPOwner(%s) = %s, %v; want %s", tc.key, owner, err, tc.owner)
		}
		p, err := parseRPZIP(strings.TrimSuffix(tc.owner, ".rpz-ip"))
		if err != nil {
			t.Errorf("parseRPZIP(%s): %v", tc.owner, err)
			continue
		}
		want := netip.MustParsePrefix(mustPrefix(tc.key))
		if p != want {
			t.Errorf("parseRPZIP(%s) = %s, want %s", tc.owner, p, want)
		}
	}
	for _, bad := range []string{"33.4.3.2.1", "24.4.3.2.1", "x.4.3.2.1", "32", "128.zz.zz.1"} {
		if p, err := parseRPZIP(bad); err == nil {
			t.Errorf("parseRPZIP(%s) = %s, want an error", bad, p)
		}
	}
}

func mustPrefix(key string) string {
	if strings.Contains(key, "/") {
		return key
	}
	a := netip.MustParseAddr(key)
	return netip.PrefixFrom(a, a.BitLen()).String()
}

// TestRPZReimportOfAListReplacesItsRows: import --list of an RPZ file a
// second time takes out of the list every row the zone no longer gives, in
// every table the zone fills, and leaves the other lists' rows.
func TestRPZReimportOfAListReplacesItsRows(t *testing.T) {
	for _, layout := range []schema.Layout{schema.PerType, schema.Normalized} {
		t.Run(layout.String(), func(t *testing.T) {
			db := testkit.NewDB(t, layout, "wal")
			run := func(f func([]string) error, args ...string) {
				t.Helper()
				if _, err := captured(t, func() error { return f(args) }); err != nil {
					t.Fatalf("%v: %v", args, err)
				}
			}
			run(runList, "add", db, "rpz")
			run(runImport, db, "--table", "block_exact", "--format", "plain", writeFile(t, "mine.txt", []byte("mine.example\n")))
			run(runImport, db, "--format", "rpz", "--list", "rpz", writeFile(t, "one.rpz", []byte(rpzHead+
				"a.example CNAME .\n*.w.example CNAME .\nok.example CNAME rpz-passthru.\n32.4.3.2.1.rpz-ip CNAME .\n")))
			run(runImport, db, "--format", "rpz", "--list", "rpz", writeFile(t, "two.rpz", []byte(rpzHead+
				"b.example CNAME .\nok.example CNAME rpz-passthru.\n")))
			want := []string{"fqdn_dns_allow ok.example", "block_exact b.example", "block_exact mine.example"}
			if got := rpzRows(t, db); !reflect.DeepEqual(got, want) {
				t.Errorf("rows %q, want %q", got, want)
			}
		})
	}
}
