package main

import (
	"encoding/csv"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// format is a kind of list file the import reads.
type format uint8

const (
	formatAuto    format = iota
	formatPlain          // one name per line
	formatHosts          // ADDRESS NAME [NAME…]
	formatAdblock        // ||name^ and @@||name^
	formatDnsmasq        // address=/name/… and server=/name/…
	formatRegex          // one RE2 pattern per line
	formatCSV            // SOURCE,TARGET pairs
	formatRPZ            // a Response Policy Zone (rpz.go), read whole
)

var formatNames = [...]string{"auto", "plain", "hosts", "adblock", "dnsmasq", "regex", "csv", "rpz"}

func (f format) String() string { return formatNames[f] }

func parseFormat(s string) (format, error) {
	for i, n := range formatNames {
		if n == s {
			return format(i), nil
		}
	}
	return 0, fmt.Errorf("unknown format %q (want one of %s)", s, strings.Join(formatNames[:], ", "))
}

// entry is one row to add.
type entry struct {
	table       schema.Table
	key, target string
}

// outcome is what one line gave: rows, and for every part of it that gave
// no row, whether it was skipped (understood, but nothing sqlitefilter can
// enforce) or invalid, and why.
type outcome struct {
	entries  []entry
	problems []problem
}

type problem struct {
	skipped bool
	reason  string
}

func (o *outcome) reset() {
	o.entries = o.entries[:0]
	o.problems = o.problems[:0]
}

func (o *outcome) add(t schema.Table, key, target string) {
	o.entries = append(o.entries, entry{t, key, target})
}

func (o *outcome) skip(reason string) { o.problems = append(o.problems, problem{true, reason}) }

func (o *outcome) invalid(format string, args ...any) {
	o.problems = append(o.problems, problem{false, fmt.Sprintf(format, args...)})
}

// addName canonicalises a key of t (a name, or for block_ip an address or
// prefix) and adds it to t, or records why not.
func (o *outcome) addName(t schema.Table, name string) {
	c, err := canonicalKey(t, name)
	if err != nil {
		o.invalid("%q: %v", clip(name), err)
		return
	}
	o.add(t, c, "")
}

// parser turns lines of one format into rows.
type parser struct {
	format format
	table  schema.Table // where names go (block rules, for adblock and dnsmasq)
	notes  map[string]bool
}

// localNames are the entries at the top of every hosts file; blocking them
// would break the machine that serves DNS, so they are skipped.
var localNames = map[string]bool{
	"localhost": true, "localhost.localdomain": true, "local": true, "broadcasthost": true,
	"ip6-localhost": true, "ip6-loopback": true, "ip6-localnet": true, "ip6-mcastprefix": true,
	"ip6-allnodes": true, "ip6-allrouters": true, "ip6-allhosts": true, "0.0.0.0": true,
}

// parse reads one line (without its line ending) into o.
func (p *parser) parse(line string, o *outcome) {
	switch p.format {
	case formatPlain:
		p.plain(line, o)
	case formatHosts:
		p.hosts(line, o)
	case formatAdblock:
		p.adblock(line, o)
	case formatDnsmasq:
		p.dnsmasq(line, o)
	case formatRegex:
		p.regex(line, o)
	case formatCSV:
		p.csv(line, o)
	}
}

func stripComment(line string) string {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	return strings.TrimSpace(line)
}

func (p *parser) plain(line string, o *outcome) {
	line = stripComment(line)
	if line == "" {
		return
	}
	if strings.ContainsAny(line, " \t") {
		o.invalid("%q: more than one field (is this a hosts file? use --format hosts)", clip(line))
		return
	}
	o.addName(p.table, line)
}

func (p *parser) hosts(line string, o *outcome) {
	fields := strings.Fields(stripComment(line))
	if len(fields) == 0 {
		return
	}
	if len(fields) == 1 {
		o.invalid("%q: want ADDRESS NAME…", clip(fields[0]))
		return
	}
	if _, err := netip.ParseAddr(fields[0]); err != nil {
		o.invalid("%q: not an address", clip(fields[0]))
		return
	}
	for _, name := range fields[1:] {
		if localNames[strings.ToLower(name)] {
			o.skip("local name")
			continue
		}
		o.addName(p.table, name)
	}
}

func (p *parser) adblock(line string, o *outcome) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '!' || line[0] == '[' {
		return
	}
	if strings.Contains(line, "##") || strings.Contains(line, "#@#") || strings.Contains(line, "#?#") || strings.Contains(line, "#$#") {
		o.skip("cosmetic rule")
		return
	}
	table := p.table
	rest := line
	if strings.HasPrefix(rest, "@@") {
		table, rest = schema.Allow, rest[2:]
	}
	if !strings.HasPrefix(rest, "||") {
		o.skip("not a ||domain^ rule")
		return
	}
	rest = rest[2:]
	end := strings.IndexByte(rest, '^')
	if end < 0 {
		o.skip("not a ||domain^ rule")
		return
	}
	name, tail := rest[:end], rest[end+1:]
	if tail != "" && tail != "|" && tail != "$important" {
		o.skip("rule options")
		return
	}
	if strings.ContainsAny(name, "/*") {
		o.skip("path or wildcard in rule")
		return
	}
	o.addName(table, name)
}

func (p *parser) dnsmasq(line string, o *outcome) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return
	}
	key, val, _ := strings.Cut(line, "=")
	table := p.table
	switch key {
	case "address":
	case "server":
		table = schema.Allow
		p.note("server=/name/… lines are imported into fqdn_dns_allow: such names go to the allow upstream (or the next plugin), not to the server the line names")
	default:
		o.skip(key + "= line")
		return
	}
	parts := strings.Split(val, "/")
	if len(parts) < 3 || parts[0] != "" {
		o.invalid("%q: want %s=/name/…", clip(line), key)
		return
	}
	for _, name := range parts[1 : len(parts)-1] {
		if name == "#" {
			o.skip("every domain (#)")
			continue
		}
		o.addName(table, strings.TrimPrefix(name, "."))
	}
}

func (p *parser) regex(line string, o *outcome) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return
	}
	if _, err := regexp.Compile(line); err != nil {
		o.invalid("%q: %v", clip(line), err)
		return
	}
	o.add(schema.BlockRegex, line, "")
}

func (p *parser) csv(line string, o *outcome) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return
	}
	r := csv.NewReader(strings.NewReader(line))
	r.FieldsPerRecord = 2
	r.TrimLeadingSpace = true
	rec, err := r.Read()
	if err != nil {
		o.invalid("%q: want SOURCE,TARGET", clip(line))
		return
	}
	t := p.table
	if strings.EqualFold(rec[0], t.KeyColumn()) && strings.EqualFold(rec[1], t.TargetColumn()) {
		o.skip("header")
		return
	}
	src, err1 := canonicalKey(t, rec[0])
	dst, err2 := canonicalTarget(t, rec[1])
	switch {
	case err1 != nil:
		o.invalid("%q: %v", clip(rec[0]), err1)
	case err2 != nil:
		o.invalid("%q: %v", clip(rec[1]), err2)
	default:
		o.add(t, src, dst)
	}
}

// note records a message to print once at the end of the import.
func (p *parser) note(msg string) {
	if p.notes == nil {
		p.notes = map[string]bool{}
	}
	p.notes[msg] = true
}

// clip shortens what is quoted back in an error, so a 10 MB line or binary
// garbage cannot flood the terminal.
func clip(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// formatTables says which tables a format writes to and which --table values
// it accepts (the first is the default).
func formatTables(f format) []schema.Table {
	switch f {
	case formatRPZ:
		return rpzTables
	case formatRegex:
		return []schema.Table{schema.BlockRegex}
	case formatCSV:
		return []schema.Table{schema.Alias, schema.RewriteV4, schema.RewriteV6}
	case formatAdblock, formatDnsmasq:
		return []schema.Table{schema.BlockWildcard, schema.BlockExact, schema.DNSBlock}
	case formatPlain:
		return []schema.Table{schema.BlockWildcard, schema.BlockExact, schema.Allow, schema.DNSBlock, schema.BlockIPv4, schema.BlockIPv6}
	default:
		return []schema.Table{schema.BlockWildcard, schema.BlockExact, schema.Allow, schema.DNSBlock}
	}
}

// sniff guesses the format of a name list from its first lines; regex and CSV
// files are told by the table they go to.
func sniff(head []string) format {
	for _, line := range head {
		line = strings.TrimSpace(line)
		switch {
		case line == "", line[0] == '#':
			continue
		case strings.HasPrefix(line, "||"), strings.HasPrefix(line, "@@"), line[0] == '!', strings.HasPrefix(line, "[Adblock"):
			return formatAdblock
		case strings.HasPrefix(line, "address=/"), strings.HasPrefix(line, "server=/"):
			return formatDnsmasq
		}
		if fields := strings.Fields(line); len(fields) >= 2 {
			if _, err := netip.ParseAddr(fields[0]); err == nil {
				return formatHosts
			}
		}
		return formatPlain
	}
	return formatPlain
}
