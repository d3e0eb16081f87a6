package sqlitefilter

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/plugin/pkg/proxy"
	"github.com/coredns/coredns/plugin/pkg/transport"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
)

// Upstream timing, as the forward plugin's defaults.
const (
	upstreamHCInterval = 500 * time.Millisecond
	upstreamMaxFails   = 2
	upstreamTimeout    = 5 * time.Second
)

// upstreamGroup is a set of plain-DNS servers the allowed (allow_upstream) or
// block-upstream (block_upstream) queries go to, through CoreDNS's own
// proxy package: the same connection reuse and health checks as forward.
// The proxies are started in OnStartup and stopped in OnShutdown.
type upstreamGroup struct {
	name    string // the Corefile option, for messages
	proxies []*proxy.Proxy
	next    atomic.Uint32
}

// ParseUpstreamAddr turns ADDR (IP, IP:PORT, [IPv6]:PORT, optionally with
// dns://) into host:port. Only plain DNS is supported.
func ParseUpstreamAddr(s string) (string, error) {
	a := strings.TrimPrefix(s, transport.DNS+"://")
	if ap, err := netip.ParseAddrPort(a); err == nil {
		if ap.Port() == 0 {
			return "", fmt.Errorf("%q: port 0", s)
		}
		return ap.String(), nil
	}
	ip, err := netip.ParseAddr(strings.Trim(a, "[]"))
	if err != nil {
		return "", fmt.Errorf("%q is not IP, IP:PORT or [IPv6]:PORT", s)
	}
	return netip.AddrPortFrom(ip, 53).String(), nil
}

func newUpstreamGroup(name string, addrs []string) *upstreamGroup {
	u := &upstreamGroup{name: name}
	for _, a := range addrs {
		u.proxies = append(u.proxies, proxy.NewProxy(pluginName+"/"+name, a, transport.DNS))
	}
	return u
}

func (u *upstreamGroup) start() {
	for _, p := range u.proxies {
		p.Start(upstreamHCInterval)
	}
}

func (u *upstreamGroup) stop() {
	for _, p := range u.proxies {
		p.Stop()
	}
}

var errNoUpstream = errors.New("no upstream answered")

// exchange sends the query to one server after the other, starting with the
// next in turn and skipping those health checks marked down (unless all
// are), until one answers. It never falls back to anything else: when none
// answers, the caller answers SERVFAIL.
func (u *upstreamGroup) exchange(ctx context.Context, state request.Request) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, upstreamTimeout)
	defer cancel()
	n := len(u.proxies)
	first := int(u.next.Add(1)) % n
	var lastErr error = errNoUpstream
	for tries := 0; tries < 2*n && ctx.Err() == nil; tries++ {
		p := u.proxies[(first+tries)%n]
		if tries < n && p.Down(upstreamMaxFails) {
			continue // first round: healthy servers only
		}
		ret, _, _, err := p.Connect(ctx, state, proxy.Options{})
		if errors.Is(err, proxy.ErrCachedClosed) {
			ret, _, _, err = p.Connect(ctx, state, proxy.Options{})
		}
		if err != nil {
			lastErr = fmt.Errorf("%s %s: %w", u.name, p.Addr(), err)
			p.Healthcheck()
			continue
		}
		return ret, nil
	}
	return nil, lastErr
}

// serve answers the query from the upstream through w.
func (u *upstreamGroup) serve(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	state := request.Request{W: w, Req: r}
	ret, err := u.exchange(ctx, state)
	if err != nil {
		return dns.RcodeServerFailure, fmt.Errorf("%s: %w", pluginName, err)
	}
	if !state.Match(ret) {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeFormatError)
		w.WriteMsg(m)
		return dns.RcodeSuccess, nil
	}
	w.WriteMsg(ret)
	return dns.RcodeSuccess, nil
}
