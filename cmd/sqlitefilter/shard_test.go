package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// runMain runs this command in a subprocess and returns its output.
func runMain(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SQLITEFILTER_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var verdictLines = regexp.MustCompile(`(?m)^(verdict|rule|target):.*$`)

func TestSplitThenExplainShardsAgreesWithExplain(t *testing.T) {
	src := testkit.NewDB(t, schema.PerType, "wal", testkit.Rows(
		testkit.BlockWildcard("doubleclick.net", "tracker.example"),
		testkit.BlockExact("ads.example.com"),
		testkit.Allow("good.doubleclick.net"),
		testkit.Alias("intel.com", "keweon.center"),
		testkit.BlockRegex(`^ad[0-9]+\.`),
	)...)
	dir := t.TempDir()
	var shards []string
	for i := range 3 {
		shards = append(shards, filepath.Join(dir, fmt.Sprintf("shard-%d.db", i)))
	}
	if out, err := runMain(t, append([]string{"split", src}, shards...)...); err != nil {
		t.Fatalf("split: %v\n%s", err, out)
	}
	for _, name := range []string{"x.ad.doubleclick.net", "good.doubleclick.net", "ads.example.com", "www.intel.com", "ad7.example.org", "www.example.org"} {
		want, err := runMain(t, "explain", src, name)
		if err != nil {
			t.Fatalf("explain %s: %v\n%s", name, err, want)
		}
		got, err := runMain(t, append([]string{"explain-shards", name}, shards...)...)
		if err != nil {
			t.Fatalf("explain-shards %s: %v\n%s", name, err, got)
		}
		stripShard := regexp.MustCompile(` \(shard \d+\)`)
		w := verdictLines.FindAllString(want, -1)
		g := verdictLines.FindAllString(stripShard.ReplaceAllString(got, ""), -1)
		if strings.Join(g, "\n") != strings.Join(w, "\n") || len(w) == 0 {
			t.Errorf("%s: explain-shards says\n%s\nexplain says\n%s", name, got, want)
		}
	}
	out, _ := runMain(t, append([]string{"explain-shards", "x.doubleclick.net"}, shards...)...)
	if want := fmt.Sprintf("rule:    block_wildcard doubleclick.net (shard %d)", schema.ShardOf("doubleclick.net", 3)); !strings.Contains(out, want) {
		t.Errorf("explain-shards does not name the rule's shard %q:\n%s", want, out)
	}
}

// explain-shards takes the answer and the client explain takes, and agrees
// with explain over the unsplit file: a CNAME chain into a blocked name, a
// blocked answer address, and a client whose group has not the list of a
// row.
func TestExplainShardsChecksAnswersAndClients(t *testing.T) {
	src := testkit.WithLists(t, testkit.NewDB(t, schema.PerType, "wal", testkit.Rows(
		testkit.BlockWildcard("tracker-cdn.test"),
		testkit.BlockIPv4("198.18.0.0/15"),
	)...),
		"INSERT INTO sqlitefilter_lists (id, name) VALUES (1, 'kids')",
		"INSERT INTO block_exact (Domain, lists) VALUES ('games.test', 2)",
		"INSERT INTO sqlitefilter_groups (name, lists) VALUES ('adults', 1)",
		"INSERT INTO sqlitefilter_group_clients VALUES ('10.0.0.0/8', 'adults')")
	shards := []string{filepath.Join(t.TempDir(), "shard-0.db"), filepath.Join(t.TempDir(), "shard-1.db"), filepath.Join(t.TempDir(), "shard-2.db")}
	if out, err := runMain(t, append([]string{"split", src}, shards...)...); err != nil {
		t.Fatalf("split: %v\n%s", err, out)
	}
	tests := []struct {
		args []string // before the name
		name string
		want string // the verdict line
	}{
		{[]string{"--cname", "shop.tracker-cdn.test"}, "metrics.shop.example", "verdict: block_cname"},
		{[]string{"--addr", "198.18.3.4"}, "www.example.org", "verdict: block_ip"},
		{nil, "games.test", "verdict: block"},
		{[]string{"--client", "10.1.2.3"}, "games.test", "verdict: pass"},
	}
	for _, tc := range tests {
		want, err := runMain(t, append(append([]string{"explain"}, tc.args...), src, tc.name)...)
		if err != nil {
			t.Fatalf("explain %v %s: %v\n%s", tc.args, tc.name, err, want)
		}
		got, err := runMain(t, append(append(append([]string{"explain-shards"}, tc.args...), tc.name), shards...)...)
		if err != nil {
			t.Fatalf("explain-shards %v %s: %v\n%s", tc.args, tc.name, err, got)
		}
		if !strings.Contains(got, tc.want+"\n") || !strings.Contains(want, tc.want+"\n") {
			t.Errorf("%v %s: want %q from both; explain-shards says\n%s\nexplain says\n%s", tc.args, tc.name, tc.want, got, want)
		}
	}
}

func TestSplitRefusesAmbiguousDestinations(t *testing.T) {
	src := testkit.NewDB(t, schema.PerType, "wal")
	dir := t.TempDir()
	a := filepath.Join(dir, "a.db")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no shard", []string{src}, "usage"},
		{"a shard twice", []string{src, a, a}, "named twice"},
		{"the source as a shard", []string{src, a, src}, "is the source"},
	}
	for _, tc := range tests {
		out, err := runMain(t, append([]string{"split"}, tc.args...)...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%s: %v, output %q, want an error with %q", tc.name, err, out, tc.want)
		}
	}
	if _, err := os.Stat(a); err == nil {
		t.Error("a refused split wrote a shard")
	}
}
