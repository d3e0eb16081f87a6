package sqlitefilter

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/coredns/coredns/plugin/metrics"
	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/rules"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// answerCheck decides what an answer leads to, before the client gets it:
// the names of its CNAME and DNAME chain and the SVCB/HTTPS target names,
// by steps 1–3 of the decision (policy.CheckChain), through the same
// verdict cache and key filters as query names; and its A and AAAA
// addresses and SVCB/HTTPS ipv4hint and ipv6hint values against
// block_ip_v4 and block_ip_v6, as the upstream sent them (before any
// rewrite). A blocked answer becomes the blocked answer for the query
// name. Only the answer section is checked.
type answerCheck struct {
	f     *SQLiteFilter
	ctx   context.Context
	r     *dns.Msg // the query
	qname string   // its canonical name
	rs    *loaded
	v     policy.Verdict // the query's verdict
	// client is who asked (the zero Addr when the database has no groups):
	// the names and addresses of the answer are decided in its scope, as
	// the query name was; ds is the query's decideStats (a copy), which
	// name the client's group and the lists.
	client netip.Addr
	ds     decideStats
	// result is the verdict once the answer is checked: v, or the one
	// that blocked the answer.
	result policy.Verdict
	scan   answerScan // run's, kept here to share the query's allocation
}

// maxChainNames bounds the names of one answer that are decided: a chain
// as long as the 8 aliases a query may follow, each with its owner, plus
// a few targets. A longer chain gets its first names decided.
const maxChainNames = 24

// answerScan is what one pass over an answer section found: the names to
// decide, in order, and the first address of a block_ip row.
type answerScan struct {
	buf   [8]string
	names []string
	ips   *rules.AddrSet // nil when block_ip has no row
	// blocks are the lists whose block_ip rows apply to the client.
	blocks policy.Lists
	lists  policy.Lists // the lists of row
	addr   netip.Addr
	row    string // the block_ip row holding addr; "" when none
	table  schema.Table
}

func (s *answerScan) name(n string) {
	n = policy.Canonical(n)
	if n != "" && len(s.names) < maxChainNames && (len(s.names) == 0 || s.names[len(s.names)-1] != n) {
		s.names = append(s.names, n)
	}
}

func (s *answerScan) address(a netip.Addr, ok bool, t schema.Table) {
	if !ok || s.row != "" || s.ips == nil {
		return
	}
	if row, lists, hit := s.ips.LookupIn(a, s.blocks); hit {
		s.addr, s.row, s.lists, s.table = a, row, lists, t
	}
}

// svcb notes the target name of an SVCB or HTTPS record ("." is the owner
// itself, already noted) and checks its address hints.
func (s *answerScan) svcb(target string, kvs []dns.SVCBKeyValue) {
	if target != "." {
		s.name(target)
	}
	if s.ips == nil {
		return
	}
	for _, kv := range kvs {
		switch h := kv.(type) {
		case *dns.SVCBIPv4Hint:
			for _, ip := range h.Hint {
				a, ok := addrA(ip)
				s.address(a, ok, schema.BlockIPv4)
			}
		case *dns.SVCBIPv6Hint:
			for _, ip := range h.Hint {
				a, ok := addrAAAA(ip)
				s.address(a, ok, schema.BlockIPv6)
			}
		}
	}
}

func (s *answerScan) scan(answer []dns.RR) {
	s.names = s.buf[:0]
	for _, rr := range answer {
		switch rr := rr.(type) {
		case *dns.A:
			if s.ips != nil {
				a, ok := addrA(rr.A)
				s.address(a, ok, schema.BlockIPv4)
			}
		case *dns.AAAA:
			if s.ips != nil {
				a, ok := addrAAAA(rr.AAAA)
				s.address(a, ok, schema.BlockIPv6)
			}
		case *dns.CNAME:
			s.name(rr.Hdr.Name)
			s.name(rr.Target)
		case *dns.DNAME:
			s.name(rr.Hdr.Name)
			s.name(rr.Target)
		case *dns.SVCB:
			s.svcb(rr.Target, rr.Value)
		case *dns.HTTPS:
			s.svcb(rr.Target, rr.Value)
		}
	}
}

// run checks m. When it blocks m it writes the answer that replaces it to w
// and reports done; otherwise m goes on to be rewritten. The names of the
// chain come first: a CNAME to a blocked name is the more telling verdict
// when the chain also ends at a blocked address.
func (c *answerCheck) run(w *answerWriter, m *dns.Msg) (done bool, err error) {
	s := &c.scan
	*s = answerScan{}
	if c.rs.set.BlockIP.Len() > 0 {
		s.ips, s.blocks = c.rs.set.BlockIP, c.scope().Blocks
	}
	s.scan(m.Answer)
	v := c.v
	if len(s.names) > 0 {
		if v, err = policy.CheckChain(c.decide, c.v, c.qname, s.names); err != nil {
			return c.fail(w, err)
		}
	}
	if v.Action == c.v.Action && s.row != "" {
		v = policy.BlockIP(c.v, s.table, s.row, s.addr.String(), s.lists)
	}
	c.result = v
	if v.Action == c.v.Action {
		return false, nil
	}
	record(c.ctx, v, nil, &c.ds)
	if v.Rule.Table == schema.DNSBlock && c.f.blockUp != nil {
		// As for a query name in fqdn_dns_block: the block upstream
		// answers the query, and its answer is rewritten.
		rw := &answerWriter{ResponseWriter: w.ResponseWriter, rw: w.rw, n: w.n, ctx: w.ctx}
		if rcode, err := c.f.blockUp.serve(c.ctx, rw, c.r); rcode != dns.RcodeSuccess {
			reply := new(dns.Msg)
			reply.SetRcode(c.r, rcode)
			w.ResponseWriter.WriteMsg(reply)
			return true, err
		}
		return true, nil
	}
	return true, w.ResponseWriter.WriteMsg(blockedReplyFor(c.r, &c.f.cfg, v.Answer))
}

// decide is the verdict for a name of the answer, as for a query name: from
// the verdict cache, the key filters, then SQLite; it is cached whoever
// decided it (keepFiltered), for the client of the query and in its scope.
func (c *answerCheck) decide(name string) (policy.Verdict, error) {
	var ds decideStats
	v, err := c.f.decideFor(name, c.client, c.rs, &ds, true)
	for _, s := range v.Skipped {
		c.f.skips.report(s, "")
	}
	return v, err
}

// fail answers as on_error says when a name of the answer could not be
// decided: fail_open lets the answer through, fail_closed answers SERVFAIL.
func (c *answerCheck) fail(w *answerWriter, err error) (bool, error) {
	record(c.ctx, c.v, err, &c.ds)
	dbErrorCount.WithLabelValues(metrics.WithServer(c.ctx), metrics.WithView(c.ctx)).Inc()
	c.f.errors.Log(fmt.Errorf("look up the answer of %s: %w", c.qname, err))
	c.result = c.v
	if c.f.cfg.OnError == FailOpen {
		return false, nil
	}
	reply := new(dns.Msg)
	reply.SetRcode(c.r, dns.RcodeServerFailure)
	return true, w.ResponseWriter.WriteMsg(reply)
}

// scope is the lists that apply to the client now, as decideFor reads them
// for the query name: everyone's for a database without groups.
func (c *answerCheck) scope() policy.Scope {
	if c.rs == nil || c.rs.set.Clients == nil {
		return policy.Everyone
	}
	return c.rs.set.Clients.Scope(c.rs.set.Clients.Group(c.client), time.Now)
}
