package sqlitefilter

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/coredns/caddy"
)

// errorLine finds the Corefile position that a parse error names.
var errorLine = regexp.MustCompile(`Testfile:(\d+) - `)

// FuzzParse parses `sqlitefilter ` followed by the fuzzer's text. It must
// never panic; an error must name a line of the input; a configuration it
// accepts must hold values the rest of the plugin can use.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`/data/dns.db`,
		"/data/dns.db {\n pool 4\n refresh 250ms\n busy_timeout 2s\n block_response nxdomain\n}",
		"/data/dns.db {\n block_ipv4 192.0.2.1\n block_ipv6 2001:db8::1\n block_ttl 10\n}",
		"dns.db {\n allow_upstream 192.0.2.10 192.0.2.11:5353\n block_upstream dns://[2001:db8::53]:53\n}",
		"dns.db {\n regex_max 500000\n rewrite_max 10000\n cache_size 0\n bloom_max_memory 512M\n}",
		"/data/dns.db {\n on_error fail_open\n}",
		"/data/shards/shard-*.db {\n shards 16\n}",
		"shard-0.db shard-1.db shard-2.db",
		"/d/a.db /d/b.db {\n shards 3\n}",
		"/d/s-[.db",
		"a.db\nsqlitefilter b.db",
		"a.db {\n pool\n}",
		"a.db {\n bloom_max_memory 9999999999999G\n}",
		"a.db {\n allow_upstream\n}",
		"a.db {\n allow_upstream 1.2.3.4\n allow_upstream 1.2.3.5\n}",
		"a.db {\n unknown 1\n}",
		"",
		"{",
		"a.db {\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		// A pattern is globbed against the file system: keep it to this
		// package's directory, so that one input cannot walk the whole
		// disk.
		if strings.ContainsAny(body, "*?[") && (strings.Count(body, "/") > 2 || strings.Contains(body, "..")) {
			t.Skip("a pattern outside the package directory")
		}
		input := "sqlitefilter " + body
		cfg, err := parse(caddy.NewTestController("dns", input))
		if err != nil {
			m := errorLine.FindStringSubmatch(err.Error())
			if m == nil {
				t.Fatalf("parse(%q): the error names no line: %v", input, err)
			}
			if n, _ := strconv.Atoi(m[1]); n < 1 || n > strings.Count(input, "\n")+1 {
				t.Fatalf("parse(%q): the error names line %d, the input has %d: %v", input, n, strings.Count(input, "\n")+1, err)
			}
			return
		}
		checkConfig(t, input, cfg)
	})
}

// checkConfig holds the ranges the parser promises.
func checkConfig(t *testing.T, input string, cfg Config) {
	t.Helper()
	switch {
	case cfg.Path == "":
		t.Fatalf("parse(%q) accepted a stanza with no database", input)
	case cfg.Pool < 1 || cfg.Pool > 1024:
		t.Fatalf("parse(%q): pool %d", input, cfg.Pool)
	case cfg.Refresh < 10_000_000:
		t.Fatalf("parse(%q): refresh %v", input, cfg.Refresh)
	case cfg.BusyTimeout < 0:
		t.Fatalf("parse(%q): busy_timeout %v", input, cfg.BusyTimeout)
	case int(cfg.BlockResponse) >= len(blockResponseNames), int(cfg.OnError) >= len(onErrorNames):
		t.Fatalf("parse(%q): block_response %d, on_error %d", input, cfg.BlockResponse, cfg.OnError)
	case !cfg.BlockIPv4.Is4() || !cfg.BlockIPv6.Is6():
		t.Fatalf("parse(%q): block addresses %v %v", input, cfg.BlockIPv4, cfg.BlockIPv6)
	case cfg.BlockTTL > 604800:
		t.Fatalf("parse(%q): block_ttl %d", input, cfg.BlockTTL)
	case cfg.RegexMax < 0 || cfg.RewriteMax < 0 || cfg.CacheSize < 0 || cfg.BloomMaxBytes < 0:
		t.Fatalf("parse(%q): negative cap in %+v", input, cfg)
	case cfg.NumShards < 0 || cfg.NumShards > maxShards:
		t.Fatalf("parse(%q): %d shards", input, cfg.NumShards)
	case cfg.ShardPattern == "" && cfg.Shards != nil && len(cfg.Shards) != cfg.NumShards:
		t.Fatalf("parse(%q): %d shards listed, NumShards %d", input, len(cfg.Shards), cfg.NumShards)
	case cfg.ShardPattern == "" && cfg.Shards == nil && cfg.NumShards != 0:
		t.Fatalf("parse(%q): one file, NumShards %d", input, cfg.NumShards)
	}
	for _, up := range append(cfg.AllowUpstream, cfg.BlockUpstream...) {
		if _, err := ParseUpstreamAddr(up); err != nil {
			t.Fatalf("parse(%q): upstream %q does not parse again: %v", input, up, err)
		}
	}
}
