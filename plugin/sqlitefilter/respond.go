package sqlitefilter

import (
	"net"

	"github.com/miekg/dns"
)

// BlockResponse is how a blocked name is answered.
type BlockResponse uint8

// The block responses.
const (
	Sinkhole BlockResponse = iota // A/AAAA get the block address, other types NODATA
	NXDomain                      // NXDOMAIN for every type
	NoData                        // NOERROR, empty, for every type
	Refused                       // REFUSED
)

var blockResponseNames = [...]string{"sinkhole", "nxdomain", "nodata", "refused"}

func (b BlockResponse) String() string { return blockResponseNames[b] }

// soaMName and soaMbox name no real host: .invalid is reserved (RFC 6761), so
// nobody mistakes the synthesised SOA for a real zone's.
const (
	soaMName = "blocked.sqlitefilter.invalid."
	soaMbox  = "hostmaster.sqlitefilter.invalid."
)

// blockedReply builds the answer to r for a blocked name as cfg says. The
// owner of every record is the question name as the client sent it.
func blockedReply(r *dns.Msg, cfg *Config) *dns.Msg { return blockedReplyFor(r, cfg, "") }

// blockedReplyFor is blockedReply for a query whose answer was blocked by
// what: the name of its chain, or the address, that the EDE's extra text
// names.
func blockedReplyFor(r *dns.Msg, cfg *Config, what string) *dns.Msg {
	m := new(dns.Msg)
	q := r.Question[0]
	switch cfg.BlockResponse {
	case Refused:
		m.SetRcode(r, dns.RcodeRefused)
	case NXDomain:
		m.SetRcode(r, dns.RcodeNameError)
	default:
		m.SetReply(r)
	}
	m.Authoritative = cfg.BlockResponse != Refused
	m.RecursionAvailable = true
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: cfg.BlockTTL}
	}
	if cfg.BlockResponse == Sinkhole {
		switch q.Qtype {
		case dns.TypeA:
			m.Answer = []dns.RR{&dns.A{Hdr: hdr(dns.TypeA), A: net.IP(cfg.BlockIPv4.AsSlice())}}
		case dns.TypeAAAA:
			m.Answer = []dns.RR{&dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: net.IP(cfg.BlockIPv6.AsSlice())}}
		}
	}
	if len(m.Answer) == 0 && cfg.BlockResponse != Refused {
		// RFC 2308: a negative answer without a SOA cannot be cached.
		m.Ns = []dns.RR{&dns.SOA{
			Hdr: hdr(dns.TypeSOA), Ns: soaMName, Mbox: soaMbox,
			Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: cfg.BlockTTL,
		}}
	}
	addEDE(m, r, dns.ExtendedErrorCodeBlocked, what)
	return m
}

// addEDE echoes the query's EDNS0 and adds an Extended DNS Error (RFC 8914)
// with the extra text text. A query without EDNS0 gets none: it could not
// parse an OPT record.
func addEDE(m, r *dns.Msg, code uint16, text string) {
	echoEDNS(m, r)
	if opt := m.IsEdns0(); opt != nil {
		opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: code, ExtraText: text})
	}
}
