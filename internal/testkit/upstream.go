package testkit

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// UpstreamSOA is the SOA a Recipe puts in the authority section of its
// NXDOMAIN and NODATA answers.
const UpstreamSOA = "test. 300 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300"

// Recipe is how a fake resolver answers, fixed so that a test can write the
// expected answer down. Every name has the records of Data, except where
// ByName gives it other data, and except names that CNAME or DNAME lead
// elsewhere: their answer is the chain, then the data of its last name. Names starting with "nx" do not exist
// (NXDOMAIN); a type without data is NODATA; both carry UpstreamSOA. ANY is
// answered with the name's A and TXT records. Every reply offers recursion;
// all but NXDOMAIN repeat the query's EDNS0 buffer size and DO bit.
type Recipe struct {
	Data   map[uint16]string            // RDATA per query type, e.g. dns.TypeA: "192.0.2.1"
	ByName map[string]map[uint16]string // lower-case FQDN: RDATA per type, in place of Data's
	// CNAME maps a lower-case FQDN to the FQDN it is an alias of.
	CNAME map[string]string
	// DNAME maps a lower-case FQDN to the target of a DNAME record there:
	// a name below it is answered with the DNAME and the CNAME it
	// synthesises (RFC 6672), then the synthesised name's answer.
	DNAME map[string]string
}

// maxChain bounds the chain of a Recipe that loops.
const maxChain = 16

// DefaultRecipe answers A with a, and AAAA, TXT, MX, HTTPS and SVCB with
// documentation data. Each call returns maps of its own, free to change.
func DefaultRecipe(a string) Recipe {
	return Recipe{Data: map[uint16]string{
		dns.TypeA:     a,
		dns.TypeAAAA:  "2001:db8::1",
		dns.TypeTXT:   `"upstream"`,
		dns.TypeMX:    "10 mail.test.",
		dns.TypeHTTPS: "1 . alpn=h2 ipv4hint=192.0.2.1",
		dns.TypeSVCB:  "1 svc.test. alpn=h2",
	}}
}

// Reply is the answer to r.
func (rc Recipe) Reply(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = true
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	if strings.HasPrefix(name, "nx") {
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{mustRR(UpstreamSOA)}
		return m
	}
	if m.Answer = rc.records(q, name); len(m.Answer) == 0 {
		m.Ns = []dns.RR{mustRR(UpstreamSOA)}
	}
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), opt.Do())
	}
	return m
}

// records returns the answer records of q; name is q.Name in lower case.
func (rc Recipe) records(q dns.Question, name string) []dns.RR {
	out, owner := rc.chain(q, name)
	if owner != q.Name {
		name = owner
	}
	types := []uint16{q.Qtype}
	if q.Qtype == dns.TypeANY {
		types = []uint16{dns.TypeA, dns.TypeTXT}
	}
	if q.Qtype == dns.TypeCNAME && len(out) > 0 {
		return out
	}
	for _, typ := range types {
		if data, ok := rc.data(name, typ); ok {
			out = append(out, mustRR(owner+" 300 IN "+dns.TypeToString[typ]+" "+data))
		}
	}
	return out
}

// chain returns the CNAME and DNAME records that lead from q's name
// elsewhere, and the owner of the records that follow them (q.Name when
// none do).
func (rc Recipe) chain(q dns.Question, name string) ([]dns.RR, string) {
	var out []dns.RR
	owner := q.Name
	for range maxChain {
		if target, ok := rc.CNAME[name]; ok {
			out = append(out, mustRR(owner+" 300 IN CNAME "+target))
			owner, name = target, strings.ToLower(target)
			continue
		}
		d, target, ok := rc.dname(name)
		if !ok {
			break
		}
		synth := owner[:len(owner)-len(d)] + target
		out = append(out, mustRR(d+" 300 IN DNAME "+target), mustRR(owner+" 300 IN CNAME "+synth))
		owner, name = synth, strings.ToLower(synth)
	}
	return out, owner
}

// dname returns the DNAME owner above name, and its target.
func (rc Recipe) dname(name string) (owner, target string, ok bool) {
	for i := 0; i < len(name); i++ {
		if name[i] == '.' && i+1 < len(name) {
			if t, ok := rc.DNAME[name[i+1:]]; ok {
				return name[i+1:], t, true
			}
		}
	}
	return "", "", false
}

func (rc Recipe) data(name string, typ uint16) (string, bool) {
	if d, ok := rc.ByName[name][typ]; ok {
		return d, true
	}
	d, ok := rc.Data[typ]
	return d, ok
}

func mustRR(s string) dns.RR {
	rr, err := dns.NewRR(s)
	if err != nil {
		panic(err)
	}
	return rr
}

// Upstream is a fake resolver on one loopback port, UDP and TCP, answering
// with its Recipe. Unlike dnstest.NewServer it has its own handler, not the
// process-wide mux, listens on 127.0.0.1 only, and records what it is asked.
type Upstream struct {
	Addr    string // 127.0.0.1:PORT, for UDP and TCP
	recipe  Recipe
	queries atomic.Int32
	tcp     atomic.Int32
	mu      sync.Mutex
	seen    []dns.Question
}

// StartUpstream starts an Upstream that answers with recipe; it stops when
// the test ends.
func StartUpstream(t testing.TB, recipe Recipe) *Upstream {
	t.Helper()
	u := &Upstream{recipe: recipe}
	pc, l := ListenUDPAndTCP(t)
	u.Addr = pc.LocalAddr().String()
	started := make(chan struct{}, 2)
	notify := func() { started <- struct{}{} }
	servers := []*dns.Server{
		{PacketConn: pc, Handler: u, NotifyStartedFunc: notify},
		{Listener: l, Handler: u, NotifyStartedFunc: notify},
	}
	for _, s := range servers {
		go s.ActivateAndServe()
	}
	<-started
	<-started
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		for _, s := range servers {
			s.ShutdownContext(ctx)
		}
	})
	return u
}

// ServeDNS records the query and answers it with the recipe.
func (u *Upstream) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	u.queries.Add(1)
	if w.RemoteAddr().Network() == "tcp" {
		u.tcp.Add(1)
	}
	u.mu.Lock()
	u.seen = append(u.seen, r.Question...)
	u.mu.Unlock()
	w.WriteMsg(u.recipe.Reply(r))
}

// Queries is the number of queries the upstream received.
func (u *Upstream) Queries() int { return int(u.queries.Load()) }

// TCPQueries is the number of those that came over TCP.
func (u *Upstream) TCPQueries() int { return int(u.tcp.Load()) }

// Seen returns the questions the upstream was asked, in order.
func (u *Upstream) Seen() []dns.Question {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]dns.Question(nil), u.seen...)
}

// Asked reports whether the upstream was asked about name (compared
// case-insensitively, with or without the final dot).
func (u *Upstream) Asked(name string) bool {
	for _, q := range u.Seen() {
		if strings.EqualFold(q.Name, dns.Fqdn(name)) {
			return true
		}
	}
	return false
}
