package sqlitefilter

import (
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

// clientAddr is the address a query's policy is chosen for: the EDNS Client
// Subnet address when the query comes from a trusted forwarder and carries
// one, else the source address. ECS from any other source is ignored, so a
// client cannot pick its own group by sending an ECS option.
func clientAddr(w dns.ResponseWriter, r *dns.Msg, trusted []netip.Prefix) netip.Addr {
	src := remoteAddr(w)
	if len(trusted) == 0 || !inAny(src, trusted) {
		return src
	}
	opt := r.IsEdns0()
	if opt == nil {
		return src
	}
	for _, o := range opt.Option {
		if ecs, ok := o.(*dns.EDNS0_SUBNET); ok {
			if a, ok := netip.AddrFromSlice(ecs.Address); ok {
				return a.Unmap()
			}
		}
	}
	return src
}

// remoteAddr is the query's source address, IPv4 mapped into IPv6 unmapped;
// the zero Addr when the writer says none.
func remoteAddr(w dns.ResponseWriter) netip.Addr {
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	case nil:
		return netip.Addr{}
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Addr{}
		}
		return ap.Addr().Unmap()
	}
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
