package main

import (
	"bufio"
	"database/sql"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// defaultRPZOrigin is the zone an export is written as without --origin.
const defaultRPZOrigin = "rpz.sqlitefilter."

// rpzNotExportable are the tables RPZ has no trigger for: a pattern, a
// different upstream, an address rewritten in the answer.
var rpzNotExportable = []schema.Table{schema.BlockRegex, schema.DNSBlock, schema.RewriteV4, schema.RewriteV6}

// rpzZone is a zone being built for export: the action of each exact
// trigger by name, and of each wildcard by the name below which it applies
// (*.name under "name"). Actions are the CNAME targets in zone syntax.
type rpzZone struct {
	exact, wild map[string]string
	skipped     map[string]int64 // rows not exported, by why
}

const (
	rpzBlockTarget    = "."
	rpzPassthruTarget = "rpz-passthru."
)

// exportRPZ writes the rule tables of db as one Response Policy Zone with
// the same verdicts, and says on errOut what it could not express.
func exportRPZ(db *sql.DB, origin string, out io.Writer, errOut io.Writer) error {
	origin = strings.ToLower(dns.Fqdn(origin))
	if _, ok := dns.IsDomainName(origin); !ok || origin == "." {
		return usagef("--origin %q is not a zone name", origin)
	}
	present, err := schema.Present(db)
	if err != nil {
		return err
	}
	keys := func(t schema.Table) (map[string]string, error) {
		if !present[t] {
			return map[string]string{}, nil
		}
		return readPairs(db, t)
	}
	var tables [schema.NumTables]map[string]string
	for _, t := range schema.Tables {
		if tables[t], err = keys(t); err != nil {
			return err
		}
	}
	z := buildRPZ(tables, origin)
	for _, t := range rpzNotExportable {
		if n := len(tables[t]); n > 0 {
			fmt.Fprintf(errOut, "not exportable as RPZ: %s %d rows\n", t, n)
		}
	}
	for _, why := range sortedKeys(z.skipped) {
		fmt.Fprintf(errOut, "not exported: %s %d rows\n", why, z.skipped[why])
	}
	return z.write(out, origin, tables[schema.BlockIPv4], tables[schema.BlockIPv6])
}

// readPairs reads a table as key → target ("" for a key-only table).
func readPairs(db *sql.DB, t schema.Table) (map[string]string, error) {
	rows, err := db.Query(fmt.Sprintf("SELECT %s FROM %s", pairColumns(t), t.Name()))
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", t, err)
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var key string
		var tgt sql.NullString
		if err := rows.Scan(&key, &tgt); err != nil {
			return nil, fmt.Errorf("export %s: %w", t, err)
		}
		m[key] = tgt.String
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("export %s: %w", t, err)
	}
	return m, nil
}

// buildRPZ makes the triggers that give sqlitefilter's verdicts:
//   - an allowed name: name and *.name passthru;
//   - a wildcard block: name and *.name CNAME .; an exact block: name CNAME .;
//   - an alias S → T: S CNAME T. and *.S CNAME *.T.;
//
// except what has no effect here, which RPZ would apply: a block or an alias
// at or below an allowed name (the allow wins here, the most specific
// trigger in RPZ), and an alias at or below a wildcard block (the block
// wins here). Leaving those out keeps the verdicts, and a re-import gives
// the rows an RPZ import made.
//
// Then every name the zone holds that lies below a wildcard gets a wildcard
// of its own with the same action. Without it, a resolver that looks for a
// wildcard only at the closest encloser (Unbound, as DNS wildcards work)
// would let through x.b.example.com when *.example.com blocks and
// a.b.example.com is allowed; with it every reading of the zone agrees. An
// RPZ import drops those wildcards again as covered by the one above.
func buildRPZ(tables [schema.NumTables]map[string]string, origin string) *rpzZone {
	z := &rpzZone{exact: map[string]string{}, wild: map[string]string{}, skipped: map[string]int64{}}
	allow := tables[schema.Allow]
	wildBlock := tables[schema.BlockWildcard]
	allowed := func(n string) bool { return suffixes(n, func(s string) bool { _, ok := allow[s]; return ok }) }
	blockedBelow := func(n string) bool { return suffixes(n, func(s string) bool { _, ok := wildBlock[s]; return ok }) }
	fits := func(t schema.Table, n string) bool {
		if why := rpzUnfit(n, origin); why != "" {
			z.skipped[t.Name()+" "+why]++
			return false
		}
		return true
	}
	for n := range allow {
		if fits(schema.Allow, n) {
			z.exact[n], z.wild[n] = rpzPassthruTarget, rpzPassthruTarget
		}
	}
	for n := range wildBlock {
		switch {
		case allowed(n):
			z.skipped["block_wildcard at or below an allowed name (no effect)"]++
		case fits(schema.BlockWildcard, n):
			z.exact[n], z.wild[n] = rpzBlockTarget, rpzBlockTarget
		}
	}
	for n := range tables[schema.BlockExact] {
		switch {
		case allowed(n):
			z.skipped["block_exact at or below an allowed name (no effect)"]++
		case fits(schema.BlockExact, n):
			z.exact[n] = rpzBlockTarget
		}
	}
	for s, t := range tables[schema.Alias] {
		switch {
		case allowed(s):
			z.skipped["domain_alias at or below an allowed name (no effect)"]++
		case blockedBelow(s):
			z.skipped["domain_alias at or below a block_wildcard name (no effect)"]++
		case !fits(schema.Alias, s):
		case rpzUnfit(t, ".") != "":
			z.skipped["domain_alias with a target that is not a name"]++
		default:
			if _, ok := z.exact[s]; !ok {
				z.exact[s] = t + "."
			}
			z.wild[s] = "*." + t + "."
		}
	}
	z.close()
	return z
}

// rpzUnfit says why a name cannot be a trigger of the zone, or "".
func rpzUnfit(n, origin string) string {
	if _, err := canonicalName(n); err != nil {
		return "not a name"
	}
	last := n[strings.LastIndexByte(n, '.')+1:]
	if strings.HasPrefix(last, "rpz-") {
		return "ending in an rpz- label, which RPZ reads as another kind of trigger"
	}
	if len("*.")+len(n)+len(origin) > maxNameLen+1 {
		return "too long with the origin"
	}
	return ""
}

// close gives every name of the zone below a wildcard a wildcard of its
// own, with the action of the nearest wildcard above it. An alias keeps its
// sub-labels: below *.S CNAME *.T., the name P.S gets *.P.S CNAME *.P.T.
func (z *rpzZone) close() {
	nodes := map[string]bool{}
	for _, m := range []map[string]string{z.exact, z.wild} {
		for n := range m {
			suffixes(n, func(s string) bool {
				if nodes[s] {
					return true // its parents are in already
				}
				nodes[s] = true
				return false
			})
		}
	}
	added := map[string]string{}
	for n := range nodes {
		if _, ok := z.wild[n]; ok {
			continue
		}
		properSuffixes(n, func(s string) bool {
			act, ok := z.wild[s]
			if !ok {
				return false
			}
			if t, isAlias := strings.CutPrefix(act, "*."); isAlias && t != "" {
				act = "*." + strings.TrimSuffix(n, "."+s) + "." + t
			}
			if len(act) <= maxNameLen+1 {
				added[n] = act
			}
			return true
		})
	}
	for n, act := range added {
		z.wild[n] = act
	}
}

// write prints the zone: SOA and NS at the apex, then the triggers in name
// order, then the rpz-ip triggers of the block_ip tables.
func (z *rpzZone) write(out io.Writer, origin string, v4, v6 map[string]string) error {
	w := bufio.NewWriterSize(out, 1<<16)
	serial := uint32(time.Now().Unix())
	fmt.Fprintf(w, "; written by sqlitefilter export --format rpz\n$ORIGIN %s\n$TTL 60\n", origin)
	fmt.Fprintf(w, "@ SOA localhost. hostmaster.localhost. %d 3600 600 86400 60\n@ NS localhost.\n", serial)
	names := sortedKeys(z.exact)
	for n := range z.wild {
		if _, ok := z.exact[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if act, ok := z.exact[n]; ok {
			fmt.Fprintf(w, "%s CNAME %s\n", n, act)
		}
		if act, ok := z.wild[n]; ok {
			fmt.Fprintf(w, "*.%s CNAME %s\n", n, act)
		}
	}
	for _, m := range []map[string]string{v4, v6} {
		for _, key := range sortedKeys(m) {
			owner, err := rpzIPOwner(key)
			if err != nil {
				return fmt.Errorf("export block_ip row %q: %w", key, err)
			}
			fmt.Fprintf(w, "%s CNAME .\n", owner)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write zone: %w", err)
	}
	return nil
}

// rpzIPOwner is the owner name of the rpz-ip trigger for an address or a
// prefix: 1.2.3.4 is 32.4.3.2.1.rpz-ip, 2001:db8::/48 48.zz.db8.2001.rpz-ip.
func rpzIPOwner(key string) (string, error) {
	p, err := netip.ParsePrefix(key)
	if err != nil {
		a, err2 := netip.ParseAddr(key)
		if err2 != nil {
			return "", err
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	a := p.Addr()
	parts := strings.Split(a.String(), ".")
	if !a.Is4() {
		parts = zzGroups(a.As16())
	}
	labels := []string{fmt.Sprint(p.Bits())}
	for i := len(parts) - 1; i >= 0; i-- {
		labels = append(labels, parts[i])
	}
	return strings.Join(labels, ".") + ".rpz-ip", nil
}

// zzGroups spells an IPv6 address as rpz-ip labels do: 16-bit groups in
// hex without leading zeros, the longest run of two or more zero groups (the
// first of equal runs, as RFC 5952 compresses to "::") as "zz".
func zzGroups(b [16]byte) []string {
	var g [8]uint16
	for i := range g {
		g[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	start, run := -1, 1
	for i := 0; i < 8; {
		j := i
		for j < 8 && g[j] == 0 {
			j++
		}
		if j-i > run {
			start, run = i, j-i
		}
		i = max(j, i+1)
	}
	var parts []string
	for i := 0; i < 8; i++ {
		if i == start {
			parts = append(parts, "zz")
			i += run - 1
			continue
		}
		parts = append(parts, fmt.Sprintf("%x", g[i]))
	}
	return parts
}

// runExportRPZ is export --format rpz: the whole database as one zone on
// standard output.
func runExportRPZ(path, table, origin string) error {
	if table != "" {
		return usagef("--format rpz exports every table RPZ can express; it takes no --table")
	}
	db, err := openReadOnly(path)
	if err != nil {
		return err
	}
	defer db.Close()
	return exportRPZ(db.DB, origin, stdout, os.Stderr)
}
