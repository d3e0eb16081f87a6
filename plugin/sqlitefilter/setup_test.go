package sqlitefilter

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
)

func TestParse(t *testing.T) {
	withDefaults := func(f func(*Config)) Config {
		c := DefaultConfig()
		c.Path = "/data/dns.db"
		f(&c)
		return c
	}
	tests := []struct {
		input string
		want  Config
	}{
		{`sqlitefilter /data/dns.db`, withDefaults(func(*Config) {})},
		{`sqlitefilter /data/dns.db {
			pool 4
			refresh 250ms
			busy_timeout 2s
			block_response nxdomain
			block_ipv4 192.0.2.1
			block_ipv6 2001:db8::1
			block_ttl 10
		}`, withDefaults(func(c *Config) {
			c.Pool = 4
			c.Refresh = 250 * time.Millisecond
			c.BusyTimeout = 2 * time.Second
			c.BlockResponse = NXDomain
			c.BlockIPv4 = netip.MustParseAddr("192.0.2.1")
			c.BlockIPv6 = netip.MustParseAddr("2001:db8::1")
			c.BlockTTL = 10
		})},
		{`sqlitefilter /data/dns.db {
			block_response refused
		}`, withDefaults(func(c *Config) { c.BlockResponse = Refused })},
		{`sqlitefilter /data/dns.db {
			trusted_forwarders 10.0.0.0/8 192.0.2.7 2001:db8::/32 ::ffff:198.51.100.0/120
		}`, withDefaults(func(c *Config) {
			c.TrustedForwarders = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"),
				netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("198.51.100.0/24")}
		})},
		{`sqlitefilter /data/dns.db {
			cache_size 0
			bloom_max_memory 512M
		}`, withDefaults(func(c *Config) { c.CacheSize, c.BloomMaxBytes = 0, 512<<20 })},
		{`sqlitefilter /data/dns.db {
			cache_size 5000
			bloom_max_memory 0
		}`, withDefaults(func(c *Config) { c.CacheSize, c.BloomMaxBytes = 5000, 0 })},
		{`sqlitefilter /data/dns.db {
			bloom_max_memory 1g
		}`, withDefaults(func(c *Config) { c.BloomMaxBytes = 1 << 30 })},
		{`sqlitefilter /data/dns.db {
			on_error fail_open
		}`, withDefaults(func(c *Config) { c.OnError = FailOpen })},
		{`sqlitefilter /data/dns.db {
			on_error fail_closed
		}`, withDefaults(func(c *Config) { c.OnError = FailClosed })},
		{`sqlitefilter /data/dns.db {
			allow_upstream 127.0.0.1 dns://[::1]:5353
			block_upstream 192.0.2.53:53
			regex_max 5000
			rewrite_max 0
		}`, withDefaults(func(c *Config) {
			c.AllowUpstream = []string{"127.0.0.1:53", "[::1]:5353"}
			c.BlockUpstream = []string{"192.0.2.53:53"}
			c.RegexMax = 5000
			c.RewriteMax = 0
		})},
		{`sqlitefilter /data/dns.db {
			answer_check off
			block_ip_max 50
		}`, withDefaults(func(c *Config) { c.AnswerCheck, c.BlockIPMax = false, 50 })},
		{`sqlitefilter /data/dns.db {
			answer_check on
		}`, withDefaults(func(c *Config) { c.AnswerCheck = true })},
	}
	for _, tc := range tests {
		got, err := parse(caddy.NewTestController("dns", tc.input))
		if err != nil {
			t.Errorf("%s: %v", tc.input, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.input, got, tc.want)
		}
	}
}

func TestParseErrorsNameTheProblem(t *testing.T) {
	tests := []struct{ input, want string }{
		{`sqlitefilter`, "expected a database PATH"},
		{"sqlitefilter a.db {\npool 0\n}", "pool"},
		{"sqlitefilter a.db {\npool x\n}", "pool"},
		{"sqlitefilter a.db {\npool 2 3\n}", "pool"},
		{"sqlitefilter a.db {\nrefresh 1ms\n}", "refresh"},
		{"sqlitefilter a.db {\nrefresh soon\n}", "refresh"},
		{"sqlitefilter a.db {\nbusy_timeout -1s\n}", "busy_timeout"},
		{"sqlitefilter a.db {\nblock_response drop\n}", "block_response"},
		{"sqlitefilter a.db {\nblock_ipv4 ::1\n}", "block_ipv4"},
		{"sqlitefilter a.db {\nblock_ipv6 10.0.0.1\n}", "block_ipv6"},
		{"sqlitefilter a.db {\nblock_ttl -5\n}", "block_ttl"},
		{"sqlitefilter a.db {\non_error ignore\n}", "on_error"},
		{"sqlitefilter a.db {\non_error\n}", "on_error"},
		{"sqlitefilter a.db {\ncache_size -1\n}", "cache_size"},
		{"sqlitefilter a.db {\ncache_size many\n}", "cache_size"},
		{"sqlitefilter a.db {\nbloom_max_memory 12T\n}", "bloom_max_memory"},
		{"sqlitefilter a.db {\nbloom_max_memory -1M\n}", "bloom_max_memory"},
		{"sqlitefilter a.db {\nfrobnicate\n}", `unknown option "frobnicate"`},
		{"sqlitefilter a.db\nsqlitefilter b.db", "Testfile:2 - Error during parsing: this plugin can only be used once"},
		{`sqlitefilter ""`, "Testfile:1 - Error during parsing: a database PATH is empty"},
		{`sqlitefilter a.db ""`, "a database PATH is empty"},
		{"sqlitefilter a.db {\nallow_upstream\n}", "allow_upstream: expected at least one ADDR"},
		{"sqlitefilter a.db {\nblock_upstream tls://1.1.1.1\n}", "block_upstream"},
		{"sqlitefilter a.db {\nblock_upstream example.com\n}", "is not IP"},
		{"sqlitefilter a.db {\nblock_upstream 127.0.0.1\nblock_upstream 127.0.0.2\n}", "given twice"},
		{"sqlitefilter a.db {\nregex_max -1\n}", "regex_max"},
		{"sqlitefilter a.db {\ntrusted_forwarders\n}", "trusted_forwarders: expected at least one CIDR"},
		{"sqlitefilter a.db {\ntrusted_forwarders 10.0.0.0/33\n}", `Testfile:2 - Error during parsing: trusted_forwarders: "10.0.0.0/33" is not a CIDR`},
		{"sqlitefilter a.db {\ntrusted_forwarders 127.0.0.1\ntrusted_forwarders ::1\n}", "given twice"},
		{"sqlitefilter a.db {\nrewrite_max many\n}", "rewrite_max"},
		{"sqlitefilter a.db {\nregex_max 1 2\n}", "expected one value"},
		{"sqlitefilter a.db {\nanswer_check yes\n}", "answer_check"},
		{"sqlitefilter a.db {\nblock_ip_max -1\n}", "block_ip_max"},
	}
	for _, tc := range tests {
		_, err := parse(caddy.NewTestController("dns", tc.input))
		if err == nil {
			t.Errorf("%q: no error", tc.input)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %q does not mention %q", tc.input, err, tc.want)
		}
	}
}
