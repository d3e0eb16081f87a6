package sqlitefilter

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
)

func init() { plugin.Register(pluginName, setup) }

// setup parses the stanza and wires the handler; it opens nothing, because a
// reload whose new Corefile fails never shuts the half-built instance down.
func setup(c *caddy.Controller) error {
	cfg, err := parse(c)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	f := New(cfg)
	c.OnStartup(func() error {
		if err := f.Start(); err != nil {
			return plugin.Error(pluginName, err)
		}
		return nil
	})
	c.OnShutdown(f.Stop)
	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		f.Next = next
		return f
	})
	return nil
}

// parse reads
//
//	sqlitefilter PATH... {
//	    shards N
//	    pool N
//	    refresh DURATION
//	    busy_timeout DURATION
//	    block_response sinkhole|nxdomain|nodata|refused
//	    block_ipv4 ADDR
//	    block_ipv6 ADDR
//	    block_ttl SECONDS
//	    allow_upstream ADDR...
//	    block_upstream ADDR...
//	    regex_max N
//	    rewrite_max N
//	    on_error fail_closed|fail_open
//	    cache_size ENTRIES
//	    bloom_max_memory BYTES[K|M|G]
//	    trusted_forwarders CIDR...
//	}
func parse(c *caddy.Controller) (Config, error) {
	cfg := DefaultConfig()
	i := 0
	for c.Next() {
		if i > 0 {
			// The second stanza's line, so the operator finds it.
			return cfg, fmt.Errorf("%s:%d - Error during parsing: %w", c.File(), c.Line(), plugin.ErrOnce)
		}
		i++
		line := c.Line()
		args := c.RemainingArgs()
		if len(args) == 0 {
			return cfg, c.Errf("expected a database PATH, or the shard files as PATH... or a PATTERN")
		}
		for i, a := range args {
			if a == "" {
				// Joined to the root it would name the root directory,
				// or with no root open a private, empty database.
				return cfg, c.Errf("a database PATH is empty")
			}
			if !filepath.IsAbs(a) {
				args[i] = filepath.Join(dnsserver.GetConfig(c).Root, a)
			}
		}
		for c.NextBlock() {
			if err := parseOption(c, &cfg); err != nil {
				return cfg, err
			}
		}
		if err := parseShards(c, line, args, &cfg); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

func parseOption(c *caddy.Controller, cfg *Config) error {
	opt := c.Val()
	args := c.RemainingArgs()
	switch opt {
	case "allow_upstream", "block_upstream":
		return parseUpstream(c, opt, args, cfg)
	case "trusted_forwarders":
		return parseTrusted(c, args, cfg)
	case "shards":
		n, err := strconv.Atoi(strings.Join(args, " "))
		if err != nil || n < 1 || n > maxShards {
			return c.Errf("shards: %q is not a number of shards from 1 to %d", strings.Join(args, " "), maxShards)
		}
		cfg.NumShards = n
		return nil
	}
	set, ok := valueOptions[opt]
	if !ok {
		return c.Errf("unknown option %q", opt)
	}
	if len(args) != 1 {
		return c.Errf("%s: expected one value, got %d", opt, len(args))
	}
	if err := set(cfg, args[0]); err != nil {
		return c.Errf("%s: %v", opt, err)
	}
	return nil
}

// valueOptions parse the options that take exactly one value.
var valueOptions = map[string]func(cfg *Config, v string) error{
	"pool": func(cfg *Config, v string) (err error) {
		cfg.Pool, err = intIn(v, 1, 1024, "a number of connections")
		return err
	},
	"refresh": func(cfg *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Millisecond {
			return fmt.Errorf("%q is not a duration of at least 10ms", v)
		}
		cfg.Refresh = d
		return nil
	},
	"busy_timeout": func(cfg *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("%q is not a duration of at least 0s", v)
		}
		cfg.BusyTimeout = d
		return nil
	},
	"block_response": func(cfg *Config, v string) error {
		i := slices.Index(blockResponseNames[:], v)
		if i < 0 {
			return fmt.Errorf("%q is not one of sinkhole, nxdomain, nodata, refused", v)
		}
		cfg.BlockResponse = BlockResponse(i)
		return nil
	},
	"block_ipv4": func(cfg *Config, v string) error {
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() {
			return fmt.Errorf("%q is not an IPv4 address", v)
		}
		cfg.BlockIPv4 = a
		return nil
	},
	"block_ipv6": func(cfg *Config, v string) error {
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is6() || a.Is4In6() {
			return fmt.Errorf("%q is not an IPv6 address", v)
		}
		cfg.BlockIPv6 = a
		return nil
	},
	"block_ttl": func(cfg *Config, v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n > 604800 {
			return fmt.Errorf("%q is not a number of seconds from 0 to 604800", v)
		}
		cfg.BlockTTL = uint32(n)
		return nil
	},
	"on_error": func(cfg *Config, v string) error {
		i := slices.Index(onErrorNames[:], v)
		if i < 0 {
			return fmt.Errorf("%q is not one of fail_closed, fail_open", v)
		}
		cfg.OnError = OnError(i)
		return nil
	},
	"regex_max": func(cfg *Config, v string) (err error) {
		cfg.RegexMax, err = intIn(v, 0, 10000000, "a number of rows")
		return err
	},
	"rewrite_max": func(cfg *Config, v string) (err error) {
		cfg.RewriteMax, err = intIn(v, 0, 10000000, "a number of rows")
		return err
	},
	"block_ip_max": func(cfg *Config, v string) (err error) {
		cfg.BlockIPMax, err = intIn(v, 0, 10000000, "a number of rows")
		return err
	},
	"answer_check": func(cfg *Config, v string) error {
		switch v {
		case "on", "off":
			cfg.AnswerCheck = v == "on"
			return nil
		}
		return fmt.Errorf("%q is not on or off", v)
	},
	"cache_size": func(cfg *Config, v string) (err error) {
		cfg.CacheSize, err = intIn(v, 0, 1<<30, "a number of entries")
		return err
	},
	"bloom_max_memory": func(cfg *Config, v string) (err error) {
		cfg.BloomMaxBytes, err = parseBytes(v)
		return err
	},
}

// intIn parses a whole number from lo to hi; what says what it counts.
func intIn(v string, lo, hi int, what string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q is not %s from %d to %d", v, what, lo, hi)
	}
	return n, nil
}

func parseUpstream(c *caddy.Controller, opt string, args []string, cfg *Config) error {
	if len(args) == 0 {
		return c.Errf("%s: expected at least one ADDR", opt)
	}
	dst := &cfg.AllowUpstream
	if opt == "block_upstream" {
		dst = &cfg.BlockUpstream
	}
	if len(*dst) > 0 {
		return c.Errf("%s: given twice", opt)
	}
	for _, a := range args {
		hp, err := ParseUpstreamAddr(a)
		if err != nil {
			return c.Errf("%s: %v", opt, err)
		}
		*dst = append(*dst, hp)
	}
	return nil
}

// parseTrusted reads the forwarders whose ECS option is trusted: CIDR
// prefixes, or single addresses (a /32 or /128).
func parseTrusted(c *caddy.Controller, args []string, cfg *Config) error {
	if len(args) == 0 {
		return c.Errf("trusted_forwarders: expected at least one CIDR")
	}
	if len(cfg.TrustedForwarders) > 0 {
		return c.Errf("trusted_forwarders: given twice")
	}
	for _, a := range args {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			addr, aerr := netip.ParseAddr(a)
			if aerr != nil {
				return c.Errf("trusted_forwarders: %q is not a CIDR prefix or an address", a)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			// Sources are compared unmapped.
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		cfg.TrustedForwarders = append(cfg.TrustedForwarders, p.Masked())
	}
	return nil
}

// parseBytes reads a size such as 0, 65536, 512K, 256M or 2G (powers of 1024).
func parseBytes(v string) (int64, error) {
	mult := int64(1)
	num := v
	if n := len(v); n > 0 {
		switch v[n-1] {
		case 'K', 'k':
			mult, num = 1<<10, v[:n-1]
		case 'M', 'm':
			mult, num = 1<<20, v[:n-1]
		case 'G', 'g':
			mult, num = 1<<30, v[:n-1]
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a size in bytes from 0 to 1T (suffix K, M or G)", v)
	}
	return n * mult, nil
}
