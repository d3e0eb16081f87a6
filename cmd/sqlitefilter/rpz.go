package main

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// Reading a Response Policy Zone. One zone fills several tables, and
// whether a trigger can be expressed depends on the zone's other triggers
// (name and *.name together are one wildcard row; a block below a passthru
// never applies here), so the whole zone is read before any row is made:
// its triggers are held in memory, about 100 bytes each.

// rpzTables are the tables an RPZ import writes (and --replace and --list
// replace).
var rpzTables = []schema.Table{schema.Allow, schema.BlockExact, schema.BlockWildcard, schema.Alias, schema.BlockIPv4, schema.BlockIPv6}

// rpzAction is what a trigger does.
type rpzAction uint8

const (
	rpzNXDomain rpzAction = iota + 1 // CNAME .
	rpzNoData                        // CNAME *.
	rpzDrop                          // CNAME rpz-drop.
	rpzSinkhole                      // local A/AAAA data holding only unspecified or loopback addresses
	rpzPassthru                      // CNAME rpz-passthru.
	rpzCNAME                         // CNAME to another name
)

var rpzActionNames = [...]string{
	rpzNXDomain: "NXDOMAIN", rpzNoData: "NODATA", rpzDrop: "rpz-drop",
	rpzSinkhole: "sinkhole local data", rpzPassthru: "rpz-passthru", rpzCNAME: "CNAME",
}

func (a rpzAction) blocks() bool { return a >= rpzNXDomain && a <= rpzSinkhole }

// rpzTrigger is the action of one owner name and, for a CNAME, its target
// (canonical, "*." kept in front of a wildcard target).
type rpzTrigger struct {
	action rpzAction
	target string
}

// rpzOwner collects the records of one owner name as they are read.
type rpzOwner struct {
	cname    string
	cnames   int
	addrs    int  // A and AAAA records
	other    bool // local data other than a sinkhole address
	position int  // order of first appearance, for stable reports
}

// sinkholes are the addresses that stand for "no such host" in local data:
// answering them is what sqlitefilter's sinkhole block answer does.
var sinkholes = map[netip.Addr]bool{
	netip.MustParseAddr("0.0.0.0"): true, netip.MustParseAddr("127.0.0.1"): true,
	netip.MustParseAddr("::"): true, netip.MustParseAddr("::1"): true,
}

// rpzReader turns the records of a zone into triggers, then rows.
type rpzReader struct {
	origin    string // lower case, with the trailing dot
	originSet bool   // from --origin: the SOA does not move it
	owners    map[string]*rpzOwner
	actions   map[string]int64 // triggers by action, for the report
	widened   map[string]int64 // triggers imported wider than they were, by how
}

// readRPZ reads a whole zone from r into o: rows, and the triggers it skipped
// by kind. origin is --origin, or "" to take it from the zone's $ORIGIN or SOA.
func readRPZ(r io.Reader, name, origin string, o *outcome) (*rpzReader, error) {
	z := &rpzReader{owners: map[string]*rpzOwner{}, actions: map[string]int64{}, widened: map[string]int64{}}
	z.origin, z.originSet = ".", origin != ""
	if z.originSet {
		z.origin = strings.ToLower(dns.Fqdn(origin))
	}
	zp := dns.NewZoneParser(r, z.origin, name)
	zp.SetDefaultTTL(3600)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		z.record(rr, o)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("read zone: %w", err)
	}
	z.resolve(o)
	return z, nil
}

// record files one resource record under its owner name.
func (z *rpzReader) record(rr dns.RR, o *outcome) {
	h := rr.Header()
	owner := strings.ToLower(h.Name)
	if h.Rrtype == dns.TypeSOA && !z.originSet && len(z.owners) == 0 {
		z.origin, z.originSet = owner, true
	}
	rel, ok := z.relative(owner)
	if !ok {
		o.invalid("%q: not in the zone %s (is --origin needed?)", clip(h.Name), z.origin)
		return
	}
	if rel == "" {
		if h.Rrtype != dns.TypeSOA && h.Rrtype != dns.TypeNS {
			o.skip("data at the zone apex")
		}
		return
	}
	ow := z.owners[rel]
	if ow == nil {
		ow = &rpzOwner{position: len(z.owners)}
		z.owners[rel] = ow
	}
	switch v := rr.(type) {
	case *dns.CNAME:
		ow.cname = strings.ToLower(v.Target)
		ow.cnames++
	case *dns.A:
		ow.addrs++
		a, _ := netip.AddrFromSlice(v.A.To4())
		ow.other = ow.other || !sinkholes[a]
	case *dns.AAAA:
		ow.addrs++
		a, _ := netip.AddrFromSlice(v.AAAA.To16())
		ow.other = ow.other || !sinkholes[a]
	default:
		ow.other = true
	}
}

// relative strips the origin from an owner name: "" for the apex, false for
// a name outside the zone.
func (z *rpzReader) relative(owner string) (string, bool) {
	switch {
	case owner == z.origin:
		return "", true
	case z.origin == ".":
		return strings.TrimSuffix(owner, "."), true
	case strings.HasSuffix(owner, "."+z.origin):
		return strings.TrimSuffix(owner, "."+z.origin), true
	}
	return "", false
}

// rpzRules are the QNAME triggers of a zone by name: exact ones, and
// wildcards by the name below which they apply (*.name under "name").
type rpzRules struct {
	exact, wild map[string]rpzTrigger
}

// resolve turns the owners into triggers and the triggers into rows.
func (z *rpzReader) resolve(o *outcome) {
	rules := rpzRules{exact: map[string]rpzTrigger{}, wild: map[string]rpzTrigger{}}
	rels := make([]string, 0, len(z.owners))
	for rel := range z.owners {
		rels = append(rels, rel)
	}
	sort.Slice(rels, func(i, j int) bool { return z.owners[rels[i]].position < z.owners[rels[j]].position })
	for _, rel := range rels {
		tr, ok := z.trigger(rel, z.owners[rel], o)
		if !ok {
			continue
		}
		labels := strings.Split(rel, ".")
		switch last := labels[len(labels)-1]; {
		case last == "rpz-ip":
			z.ipTrigger(rel, tr, o)
			continue
		case last == "rpz-nsdname", last == "rpz-nsip", last == "rpz-client-ip":
			o.skip(last + " trigger")
			continue
		}
		name, wild := strings.CutPrefix(rel, "*.")
		c, err := canonicalName(name)
		if err != nil {
			o.invalid("%q: %v", clip(rel), err)
			continue
		}
		z.actions[rpzActionNames[tr.action]]++
		if wild {
			rules.wild[c] = tr
		} else {
			rules.exact[c] = tr
		}
	}
	z.rows(rules, o)
}

// trigger is the action of one owner's records, or false when it is one
// sqlitefilter cannot hold (skipped or invalid, recorded in o).
func (z *rpzReader) trigger(rel string, ow *rpzOwner, o *outcome) (rpzTrigger, bool) {
	switch {
	case ow.cnames > 1 || ow.cnames == 1 && (ow.addrs > 0 || ow.other):
		o.invalid("%q: a CNAME and other records", clip(rel))
		return rpzTrigger{}, false
	case ow.cnames == 0 && ow.other:
		o.skip("local-data")
		return rpzTrigger{}, false
	case ow.cnames == 0:
		return rpzTrigger{action: rpzSinkhole}, true
	}
	switch ow.cname {
	case ".":
		return rpzTrigger{action: rpzNXDomain}, true
	case "*.":
		return rpzTrigger{action: rpzNoData}, true
	case "rpz-drop.":
		return rpzTrigger{action: rpzDrop}, true
	case "rpz-passthru.":
		return rpzTrigger{action: rpzPassthru}, true
	case "rpz-tcp-only.":
		o.skip("rpz-tcp-only")
		return rpzTrigger{}, false
	}
	target, wild := strings.CutPrefix(ow.cname, "*.")
	c, err := canonicalName(target)
	if err != nil {
		o.invalid("%q: CNAME %q: %v", clip(rel), clip(ow.cname), err)
		return rpzTrigger{}, false
	}
	if strings.HasPrefix(c, "rpz-") && !strings.Contains(c, ".") {
		o.skip("CNAME " + clip(c) + ".")
		return rpzTrigger{}, false
	}
	if wild {
		c = "*." + c
	}
	return rpzTrigger{action: rpzCNAME, target: c}, true
}

// ipTrigger adds the block_ip row of an rpz-ip trigger that blocks.
func (z *rpzReader) ipTrigger(rel string, tr rpzTrigger, o *outcome) {
	p, err := parseRPZIP(strings.TrimSuffix(rel, ".rpz-ip"))
	switch {
	case err != nil:
		o.invalid("%q: %v", clip(rel), err)
	case !tr.action.blocks():
		o.skip("rpz-ip " + rpzActionNames[tr.action])
	default:
		t := schema.BlockIPv6
		if p.Addr().Is4() {
			t = schema.BlockIPv4
		}
		z.actions["rpz-ip "+rpzActionNames[tr.action]]++
		o.addName(t, p.String())
	}
}

// parseRPZIP reads the owner of an rpz-ip trigger without ".rpz-ip": the
// prefix length, then the address's parts from the last one
// (32.4.3.2.1 is 1.2.3.4/32; for IPv6, 16-bit groups in hex with "zz"
// standing for the run of zero groups that "::" stands for).
func parseRPZIP(s string) (netip.Prefix, error) {
	labels := strings.Split(s, ".")
	bits, err := strconv.Atoi(labels[0])
	if err != nil || len(labels) < 2 {
		return netip.Prefix{}, fmt.Errorf("not PREFIXLEN.ADDRESS-REVERSED")
	}
	parts := labels[1:]
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	text := strings.Join(parts, ".")
	if zz := slices.Index(parts, "zz"); zz >= 0 {
		text = strings.Join(parts[:zz], ":") + "::" + strings.Join(parts[zz+1:], ":")
	} else if len(parts) != 4 {
		text = strings.Join(parts, ":")
	}
	a, err := netip.ParseAddr(text)
	if err != nil {
		return netip.Prefix{}, err
	}
	p, err := a.Prefix(bits)
	if err != nil || p.Bits() != bits {
		return netip.Prefix{}, fmt.Errorf("prefix length %d", bits)
	}
	if p.Addr() != a {
		return netip.Prefix{}, fmt.Errorf("%s has bits set beyond /%d", a, bits)
	}
	return p, nil
}

// suffixes calls fn with name and each of its parents, nearest first, until
// fn returns true; it reports whether one did.
func suffixes(name string, fn func(string) bool) bool {
	for {
		if fn(name) {
			return true
		}
		i := strings.IndexByte(name, '.')
		if i < 0 {
			return false
		}
		name = name[i+1:]
	}
}

// properSuffixes is suffixes without name itself.
func properSuffixes(name string, fn func(string) bool) bool {
	i := strings.IndexByte(name, '.')
	return i >= 0 && suffixes(name[i+1:], fn)
}

// rows maps the QNAME triggers to rows. sqlitefilter's rules cover a name
// and everything below it where RPZ tells name from *.name, and an allowed
// name beats any block below it where RPZ lets the most specific trigger
// win; so:
//   - name and *.name with the same action are one row; one of the two alone
//     is widened to the other (counted in widened);
//   - a passthru for name alone is widened to its subtree only when the zone
//     blocks or aliases nothing below it; otherwise it is skipped, and the
//     blocks stay;
//   - a trigger below a passthru (a block, a CNAME) could never apply and is
//     skipped, as is one that a wildcard above already gives.
func (z *rpzReader) rows(r rpzRules, o *outcome) {
	// above: names that have a block or CNAME trigger strictly below them.
	above := map[string]bool{}
	for n, tr := range r.exact {
		if tr.action != rpzPassthru {
			properSuffixes(n, func(s string) bool { above[s] = true; return false })
		}
	}
	for n, tr := range r.wild {
		if tr.action != rpzPassthru {
			suffixes(n, func(s string) bool { above[s] = true; return false })
		}
	}
	allow := map[string]string{} // name → how the row widens the triggers, or ""
	for n, tr := range r.wild {
		if tr.action == rpzPassthru {
			allow[n] = ""
			if r.exact[n].action != rpzPassthru {
				allow[n] = "*.name passthru also allows name"
			}
		}
	}
	for n, tr := range r.exact {
		if _, ok := allow[n]; ok || tr.action != rpzPassthru {
			continue
		}
		if above[n] {
			o.skip("rpz-passthru of a name with blocks below it")
			continue
		}
		allow[n] = "name passthru also allows its subtree"
	}
	isAllow := func(s string) bool { _, ok := allow[s]; return ok }
	allowed := func(n string) bool { return suffixes(n, isAllow) }
	for _, n := range sortedKeys(allow) {
		if properSuffixes(n, isAllow) {
			o.skip("below another rpz-passthru")
			continue
		}
		z.widen(allow[n])
		o.add(schema.Allow, n, "")
	}
	wildBlock := map[string]bool{}
	for n, tr := range r.wild {
		if tr.action.blocks() && !allowed(n) {
			wildBlock[n] = true
		}
	}
	z.blockRows(r, allowed, wildBlock, o)
	z.aliasRows(r, allowed, wildBlock, o)
}

func (z *rpzReader) blockRows(r rpzRules, allowed func(string) bool, wildBlock map[string]bool, o *outcome) {
	covered := func(n string) bool { return properSuffixes(n, func(s string) bool { return wildBlock[s] }) }
	for _, n := range sortedKeys(r.wild) {
		switch {
		case !r.wild[n].action.blocks():
		case allowed(n):
			o.skip("block below rpz-passthru")
		case covered(n):
			o.skip("block below a *.name block")
		default:
			if !r.exact[n].action.blocks() {
				z.widen("*.name block also blocks name")
			}
			o.add(schema.BlockWildcard, n, "")
		}
	}
	for _, n := range sortedKeys(r.exact) {
		switch {
		case !r.exact[n].action.blocks(), wildBlock[n]:
		case allowed(n):
			o.skip("block below rpz-passthru")
		case covered(n):
			o.skip("block below a *.name block")
		default:
			o.add(schema.BlockExact, n, "")
		}
	}
}

// aliasRows maps CNAME triggers to domain_alias rows, which rewrite a name
// and every name below it (sub-labels kept): *.S CNAME *.T with S CNAME T.
func (z *rpzReader) aliasRows(r rpzRules, allowed func(string) bool, wildBlock map[string]bool, o *outcome) {
	alias := map[string]string{}
	widened := map[string]string{}
	for n, tr := range r.wild {
		if tr.action != rpzCNAME {
			continue
		}
		t, ok := strings.CutPrefix(tr.target, "*.")
		if !ok {
			o.skip("*.name CNAME to one name")
			continue
		}
		if ex := r.exact[n]; ex.action == rpzCNAME && ex.target != t {
			o.skip("name and *.name CNAME to different targets")
		} else if ex.action != rpzCNAME {
			widened[n] = "*.name CNAME also rewrites name"
		}
		alias[n] = t
	}
	for n, tr := range r.exact {
		if tr.action != rpzCNAME || r.wild[n].action == rpzCNAME {
			continue
		}
		if strings.HasPrefix(tr.target, "*.") {
			o.skip("name CNAME to a wildcard name")
			continue
		}
		alias[n] = tr.target
		widened[n] = "name CNAME also rewrites its subtree"
	}
	for _, n := range sortedKeys(alias) {
		t := alias[n]
		switch {
		case allowed(n):
			o.skip("CNAME below rpz-passthru")
		case suffixes(n, func(s string) bool { return wildBlock[s] }):
			o.skip("CNAME below a *.name block")
		case aliasCovered(alias, n, t):
			o.skip("CNAME that a *.name CNAME above gives")
		default:
			z.widen(widened[n])
			o.add(schema.Alias, n, t)
		}
	}
}

// widen counts a row that applies to more names than its triggers did.
func (z *rpzReader) widen(how string) {
	if how != "" {
		z.widened[how]++
	}
}

// aliasCovered reports whether the nearest alias above n already rewrites
// n to t (P.S → P.T).
func aliasCovered(alias map[string]string, n, t string) bool {
	covered := false
	properSuffixes(n, func(s string) bool {
		st, ok := alias[s]
		if ok {
			prefix := strings.TrimSuffix(n, "."+s)
			covered = prefix+"."+st == t
		}
		return ok
	})
	return covered
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// report is what an RPZ import prints for one file besides the counts of
// rows: the triggers by action and those imported wider than they were.
func (z *rpzReader) report(rowsByTable map[schema.Table]int64) []string {
	var lines []string
	if s := joinCounts(z.actions); s != "" {
		lines = append(lines, "triggers: "+s)
	}
	var ts []string
	for _, t := range rpzTables {
		if n := rowsByTable[t]; n > 0 {
			ts = append(ts, fmt.Sprintf("%s %d", t, n))
		}
	}
	if len(ts) > 0 {
		lines = append(lines, "rows: "+strings.Join(ts, ", "))
	}
	if s := joinCounts(z.widened); s != "" {
		lines = append(lines, "widened to what sqlitefilter's rules cover: "+s)
	}
	return lines
}

func joinCounts(m map[string]int64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// importRPZ reads the whole zone of in into o and applies its rows and
// problems, then prints what the zone held by action and by table.
func (j *importJob) importRPZ(in *input, p *parser, prog *progress, o *outcome, apply func() error) error {
	o.reset()
	z, err := readRPZ(in.r, in.name, j.origin, o)
	if err != nil {
		return err
	}
	if err := apply(); err != nil {
		return err
	}
	byTable := map[schema.Table]int64{}
	for _, e := range o.entries {
		byTable[e.table]++
	}
	for _, l := range z.report(byTable) {
		prog.printf(j.stdout, "%s: rpz: %s\n", in.name, l)
	}
	if z.actions[rpzActionNames[rpzNoData]]+z.actions[rpzActionNames[rpzDrop]] > 0 {
		p.note("NODATA (CNAME *.) and rpz-drop triggers are imported as blocks: the answer a blocked name gets is the plugin's block_response, the same for every block")
	}
	if len(z.widened) > 0 {
		p.note("a table row covers a name and everything below it, where RPZ tells name from *.name: the triggers counted as widened now apply to both")
	}
	return nil
}
