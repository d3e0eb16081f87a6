package sqlitefilter

import (
	"net/netip"
	"time"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/rules"
)

// Config is the parsed Corefile stanza.
type Config struct {
	// Path is the database as the Corefile names it: the file, or for a
	// shard set the PATTERN or the listed files (in messages only).
	Path string
	// Shards are the files of a shard set in shard order;
	// nil for one file. ShardPattern, when set, is a glob still to be
	// resolved to NumShards files when they are opened.
	Shards        []string
	ShardPattern  string
	NumShards     int
	Pool          int
	Refresh       time.Duration
	BusyTimeout   time.Duration
	BlockResponse BlockResponse
	BlockIPv4     netip.Addr
	BlockIPv6     netip.Addr
	BlockTTL      uint32
	OnError       OnError
	AllowUpstream []string // host:port; empty: allowed names go to the next plugin
	BlockUpstream []string // host:port; empty: fqdn_dns_block names are answered as blocked
	RegexMax      int      // block_regex patterns held in memory
	RewriteMax    int      // rows of each ip_rewrite table held in memory
	BlockIPMax    int      // rows of each block_ip table held in memory
	AnswerCheck   bool     // decide the names and addresses of answers (answer_check)
	CacheSize     int      // verdicts cached; 0: no cache
	BloomMaxBytes int64    // largest Bloom filter built; 0: no filter
	// TrustedForwarders are the sources whose EDNS Client Subnet option
	// names the client a query's group is chosen for.
	TrustedForwarders []netip.Prefix
}

// OnError is what a query gets when the database cannot be read.
type OnError uint8

const (
	// FailClosed answers SERVFAIL: a filter that cannot read its rules lets
	// nothing through that it might have blocked.
	FailClosed OnError = iota
	// FailOpen passes the query to the next plugin, unfiltered.
	FailOpen
)

var onErrorNames = [...]string{FailClosed: "fail_closed", FailOpen: "fail_open"}

func (o OnError) String() string { return onErrorNames[o] }

// DefaultConfig is the configuration of a stanza with no options.
func DefaultConfig() Config {
	return Config{
		// 32: the pool lends connections last in, first out, so under
		// load the same few stay hot and the rest cost nothing but
		// standing by (test/bench/README.md).
		Pool:          32,
		Refresh:       time.Second,
		BusyTimeout:   time.Second,
		BlockResponse: Sinkhole,
		BlockIPv4:     netip.IPv4Unspecified(),
		BlockIPv6:     netip.IPv6Unspecified(),
		BlockTTL:      60,
		OnError:       FailClosed,
		RegexMax:      rules.DefaultLimits.RegexMax,
		RewriteMax:    rules.DefaultLimits.RewriteMax,
		BlockIPMax:    rules.DefaultLimits.BlockIPMax,
		AnswerCheck:   true,
		CacheSize:     100000,
		BloomMaxBytes: 256 << 20,
	}
}

// sharded reports whether the stanza names a shard set rather than one file.
func (c *Config) sharded() bool { return c.NumShards > 0 }

// limits are the caps of the rules held in memory.
func (c *Config) limits() rules.Limits {
	return rules.Limits{RegexMax: c.RegexMax, RewriteMax: c.RewriteMax, BlockIPMax: c.BlockIPMax}
}
