package sqlitefilter

import (
	"context"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin/pkg/upstream"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
)

// serveAlias answers a query whose name Decide aliased: the CNAME records of
// the chain, then what the server answers for the last target and the same
// qtype, obtained by sending that question through the server again
// (plugin/pkg/upstream), so that cache, forward and this plugin's own rules
// apply to the target as to any query. A CNAME query gets the first CNAME
// alone, as from an authoritative server.
//
// The server sends the target to the server block that serves its zone,
// which may be another block than this one. So that the client gets this
// block's policy whatever block resolved the target, this block's address
// rewrites apply to the whole answer (the caller wraps w), and the nested
// pass through this same instance does not rewrite a second time. When no
// block serves the target (REFUSED), the answer is the CNAME chain alone,
// NOERROR, as an authoritative server gives for a target outside its zones:
// the client's resolver follows it.
func (f *SQLiteFilter) serveAlias(ctx context.Context, w dns.ResponseWriter, r *dns.Msg, v policy.Verdict) (int, error) {
	q := r.Question[0]
	cnames := make([]dns.RR, 0, len(v.Aliases))
	owner := q.Name
	for _, h := range v.Aliases {
		target := dns.Fqdn(h.Name)
		cnames = append(cnames, &dns.CNAME{
			Hdr:    dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: f.cfg.BlockTTL},
			Target: target,
		})
		owner = target
	}
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = true
	if q.Qtype == dns.TypeCNAME {
		m.Authoritative = true
		m.Answer = cnames[:1]
		echoEDNS(m, r)
		w.WriteMsg(m)
		return dns.RcodeSuccess, nil
	}
	// Decide followed the whole chain, so the target is not aliased again;
	// the loop counter only stops a recursion through other plugins (or a
	// database edit between the two decisions) from going on for ever.
	loop, _ := ctx.Value(dnsserver.LoopKey{}).(int)
	if loop > policy.MaxAliasChain {
		return dns.RcodeServerFailure, nil
	}
	ctx = context.WithValue(ctx, dnsserver.LoopKey{}, loop+1)
	ctx = context.WithValue(ctx, aliasKey{}, f)
	res, err := upstream.New().Lookup(ctx, request.Request{W: w, Req: r}, dns.Fqdn(v.Target), q.Qtype)
	if err != nil {
		return dns.RcodeServerFailure, err
	}
	if res == nil {
		return dns.RcodeServerFailure, nil
	}
	if res.Rcode == dns.RcodeRefused {
		m.Answer = cnames
		echoEDNS(m, r)
		w.WriteMsg(m)
		return dns.RcodeSuccess, nil
	}
	m.Rcode = res.Rcode
	// A truncated answer for the target makes the whole answer truncated,
	// so that the client asks again over TCP rather than take the CNAMEs
	// alone for the answer.
	m.Truncated = res.Truncated
	m.Answer = append(cnames, res.Answer...)
	m.Ns = res.Ns
	echoEDNS(m, r)
	w.WriteMsg(m)
	return dns.RcodeSuccess, nil
}

// aliasKey marks the context of an alias target's lookup with the instance
// that aliased it, which rewrites the whole answer itself.
type aliasKey struct{}

// aliasedBy reports whether ctx is the lookup of an alias target that f
// aliased.
func (f *SQLiteFilter) aliasedBy(ctx context.Context) bool {
	by, _ := ctx.Value(aliasKey{}).(*SQLiteFilter)
	return by == f
}

// echoEDNS gives m the query's EDNS0 (RFC 6891), when it has one.
func echoEDNS(m, r *dns.Msg) {
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(max(opt.UDPSize(), dns.MinMsgSize), opt.Do())
	}
}
