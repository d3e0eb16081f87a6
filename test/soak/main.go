// Command soak is the checking half of test/scripts/soak.sh.
//
//	soak rows TABLE          print the permanent rows of TABLE, one a line
//	soak queries             print a dnsperf query file over every kind of name
//	soak check FLAGS         query the server for names of a known verdict,
//	                         sample the process, and print the report
//
// The permanent rows are in every version of the database the soak serves
// (edited, swapped, reloaded), so the verdict of their names never changes:
// a blocked name is answered 0.0.0.0, a rewritten one 198.51.100.99, any
// other 192.0.2.53 (the fake upstream's address). Only loopback addresses
// are queried.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

const (
	blockedAddr   = "0.0.0.0"
	upstreamAddr  = "192.0.2.53"
	rewrittenAddr = "198.51.100.99"
	names         = 50 // names of each kind
)

// expectation is a name and the one A address its answer must hold.
type expectation struct{ name, addr string }

// checked are the names of a fixed verdict: blocked by block_exact, by
// block_wildcard and by block_regex, aliased (the alias target is upstream
// data), rewritten (the upstream answers rw- names 192.0.2.99), and passed.
func checked() []expectation {
	var out []expectation
	for i := range names {
		out = append(out,
			expectation{fmt.Sprintf("perm-block-%d.soak.test.", i), blockedAddr},
			expectation{fmt.Sprintf("a%d.permwild.soak.test.", i), blockedAddr},
			expectation{fmt.Sprintf("permrx%d.soak.test.", i), blockedAddr},
			expectation{fmt.Sprintf("pass-%d.soak.test.", i), upstreamAddr},
			expectation{fmt.Sprintf("rw-%d.soak.test.", i), rewrittenAddr},
		)
	}
	return out
}

func rows(table string) ([]string, error) {
	var out []string
	switch table {
	case "block_exact":
		for i := range names {
			out = append(out, fmt.Sprintf("perm-block-%d.soak.test", i))
		}
	case "block_wildcard":
		out = []string{"permwild.soak.test"}
	case "block_regex":
		out = []string{`^permrx[0-9]+\.soak\.test$`}
	case "ip_rewrite_v4":
		out = []string{"192.0.2.99,198.51.100.99"}
	default:
		return nil, fmt.Errorf("no permanent rows for %q", table)
	}
	return out, nil
}

// queries is the load: the checked names, the names the writer adds and
// removes, and names below them.
func queries(w io.Writer) {
	for _, e := range checked() {
		fmt.Fprintf(w, "%s A\n", e.name)
	}
	for i := range 200 {
		fmt.Fprintf(w, "churn-%d.soak.test. A\n", i)
		fmt.Fprintf(w, "x.churnwild-%d.soak.test. A\n", i%20)
		fmt.Fprintf(w, "n%d.dnsblock.soak.test. A\n", i%20)
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: soak rows TABLE | soak queries | soak check FLAGS")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "rows":
		if len(os.Args) != 3 {
			fmt.Fprintln(os.Stderr, "usage: soak rows TABLE")
			os.Exit(2)
		}
		r, err := rows(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println(strings.Join(r, "\n"))
	case "queries":
		w := bufio.NewWriter(os.Stdout)
		queries(w)
		w.Flush()
	case "check":
		os.Exit(check(os.Args[2:]))
	default:
		fmt.Fprintf(os.Stderr, "soak: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

// counts are the results of the checking loop.
type counts struct {
	sent, right, wrong, servfail, otherRcode, unanswered int
	firstWrong                                           []string
}

func check(args []string) int {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	addr := fs.String("addr", "", "the server, 127.0.0.1:PORT")
	pprof := fs.String("pprof", "", "the server's pprof listener, 127.0.0.1:PORT")
	pid := fs.Int("pid", 0, "the server's process id")
	duration := fs.Duration("duration", 10*time.Minute, "how long to check")
	every := fs.Duration("sample", 10*time.Second, "how often to sample the process")
	warmup := fs.Duration("warmup", 2*time.Minute, "samples before this are not judged")
	fs.Parse(args)
	if !strings.HasPrefix(*addr, "127.") || (*pprof != "" && !strings.HasPrefix(*pprof, "127.")) {
		fmt.Fprintln(os.Stderr, "soak check: loopback addresses only")
		return 2
	}
	var c counts
	var samples []sample
	exp := checked()
	udp := &dns.Client{Net: "udp", Timeout: time.Second}
	conn := &tcpConn{c: &dns.Client{Net: "tcp", Timeout: 2 * time.Second}, addr: *addr}
	defer conn.close()
	start := time.Now()
	next := start
	for i := 0; time.Since(start) < *duration; i++ {
		if time.Now().After(next) {
			samples = append(samples, take(time.Since(start), *pid, *pprof))
			next = next.Add(*every)
		}
		e := exp[i%len(exp)]
		// Most queries over TCP, which the UDP flood of the load does not
		// crowd out; every tenth over UDP, retried once as a stub would.
		c.sent++
		var r *dns.Msg
		var err error
		if i%10 == 0 {
			r, err = exchange(udp, e.name, *addr)
		} else {
			r, err = conn.exchange(e.name)
		}
		switch {
		case err != nil:
			c.unanswered++
		case r.Rcode == dns.RcodeServerFailure:
			c.servfail++
			c.note(fmt.Sprintf("%s SERVFAIL at %s", e.name, time.Since(start).Round(time.Second)))
		case r.Rcode != dns.RcodeSuccess:
			c.otherRcode++
			c.note(fmt.Sprintf("%s %s at %s", e.name, dns.RcodeToString[r.Rcode], time.Since(start).Round(time.Second)))
		case len(r.Answer) != 1 || !strings.HasSuffix(r.Answer[0].String(), "\t"+e.addr):
			c.wrong++
			c.note(fmt.Sprintf("%s: %v, want %s, at %s", e.name, r.Answer, e.addr, time.Since(start).Round(time.Second)))
		default:
			c.right++
		}
		time.Sleep(2 * time.Millisecond) // a few hundred checks a second, beside the load
	}
	samples = append(samples, take(time.Since(start), *pid, *pprof))
	fmt.Printf("checks: %d sent, %d right, %d wrong, %d SERVFAIL, %d other rcode, %d unanswered (after a retry)\n",
		c.sent, c.right, c.wrong, c.servfail, c.otherRcode, c.unanswered)
	for _, w := range c.firstWrong {
		fmt.Println("  ", w)
	}
	flat := report(os.Stdout, samples, *warmup)
	if c.wrong > 0 || c.servfail > 0 || c.otherRcode > 0 || !flat {
		return 1
	}
	return 0
}

func (c *counts) note(s string) {
	if len(c.firstWrong) < 20 {
		c.firstWrong = append(c.firstWrong, s)
	}
}

func exchange(c *dns.Client, name, addr string) (*dns.Msg, error) {
	m := new(dns.Msg).SetQuestion(name, dns.TypeA)
	var err error
	for range 2 {
		var r *dns.Msg
		if r, _, err = c.Exchange(m, addr); err == nil {
			return r, nil
		}
	}
	return nil, err
}

// tcpConn is one TCP connection to the server, as a forwarder keeps open,
// dialled again after an error.
type tcpConn struct {
	c    *dns.Client
	addr string
	conn *dns.Conn
}

func (t *tcpConn) exchange(name string) (*dns.Msg, error) {
	m := new(dns.Msg).SetQuestion(name, dns.TypeA)
	var err error
	for range 2 {
		if t.conn == nil {
			if t.conn, err = t.c.Dial(t.addr); err != nil {
				continue
			}
		}
		var r *dns.Msg
		if r, _, err = t.c.ExchangeWithConn(m, t.conn); err == nil {
			return r, nil
		}
		t.close()
	}
	return nil, err
}

func (t *tcpConn) close() {
	if t.conn != nil {
		t.conn.Close()
		t.conn = nil
	}
}

// sample is the process's footprint at one moment; -1 where it could not
// be read.
type sample struct {
	at                    time.Duration
	rssKB, fds, goroutine int
}

func take(at time.Duration, pid int, pprof string) sample {
	s := sample{at: at, rssKB: -1, fds: -1, goroutine: -1}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				s.rssKB, _ = strconv.Atoi(f[1])
			}
		}
	}
	if fds, err := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid)); err == nil && len(fds) > 0 {
		s.fds = len(fds)
	}
	if pprof != "" {
		hc := &http.Client{Timeout: 5 * time.Second}
		if resp, err := hc.Get("http://" + pprof + "/debug/pprof/goroutine?debug=1"); err == nil {
			line, _ := bufio.NewReader(resp.Body).ReadString('\n')
			resp.Body.Close()
			// "goroutine profile: total N"
			if f := strings.Fields(line); len(f) == 4 {
				s.goroutine, _ = strconv.Atoi(f[3])
			}
		}
	}
	return s
}

// report prints the samples as a table and judges them after warm-up: the
// second half may exceed the first by 10 % plus a small allowance (8 MB of
// RSS, 8 descriptors, 20 goroutines: a swap or a reload in flight at a
// sample holds a second pool for a moment). RSS compares medians;
// descriptors and goroutines compare each half's least value, because at
// saturation each sample also counts the queries in flight (a goroutine and
// an upstream socket each, up to dnsperf's 200 outstanding), and a leak
// raises the floor.
func report(w io.Writer, samples []sample, warmup time.Duration) bool {
	fmt.Fprintf(w, "\n%8s %10s %6s %10s\n", "time", "RSS (MB)", "fds", "goroutines")
	for _, s := range samples {
		fmt.Fprintf(w, "%8s %10.1f %6d %10d\n", s.at.Round(time.Second), float64(s.rssKB)/1024, s.fds, s.goroutine)
	}
	var judged []sample
	for _, s := range samples {
		if s.at >= warmup {
			judged = append(judged, s)
		}
	}
	if len(judged) < 4 {
		fmt.Fprintln(w, "verdict: too few samples after warm-up to judge")
		return false
	}
	half := len(judged) / 2
	flat := true
	for _, m := range []struct {
		name  string
		get   func(sample) int
		slack int
		stat  func([]int) int
	}{
		{"RSS (KB)", func(s sample) int { return s.rssKB }, 8 << 10, func(v []int) int { return v[len(v)/2] }},
		{"fds", func(s sample) int { return s.fds }, 8, func(v []int) int { return v[0] }},
		{"goroutines", func(s sample) int { return s.goroutine }, 20, func(v []int) int { return v[0] }},
	} {
		first, second := m.stat(sorted(judged[:half], m.get)), m.stat(sorted(judged[half:], m.get))
		ok := first >= 0 && second >= 0 && second <= first+first/10+m.slack
		fmt.Fprintf(w, "%-10s after warm-up, first half %d, second half %d: %s\n", m.name, first, second, map[bool]string{true: "flat", false: "GROWING"}[ok])
		flat = flat && ok
	}
	if flat {
		fmt.Fprintf(w, "verdict: flat after warm-up (%s)\n", warmup)
	} else {
		fmt.Fprintf(w, "verdict: NOT flat after warm-up (%s)\n", warmup)
	}
	return flat
}

func sorted(ss []sample, get func(sample) int) []int {
	v := make([]int, 0, len(ss))
	for _, s := range ss {
		v = append(v, get(s))
	}
	slices.Sort(v)
	return v
}
