// Package test holds end-to-end tests: they build the real CoreDNS binary with
// sqlitefilter, start it on loopback ports and query it with a DNS client.
package test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// binaryPath is the CoreDNS binary built once for the whole run by TestMain,
// linked statically as the release is.
var binaryPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sqlitefilter-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binaryPath = filepath.Join(dir, "coredns")
	// The tests run the binary that ships: the static build (static_test.go).
	build := staticBuild(binaryPath)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build coredns:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newDB creates a per-type database in a temporary directory and runs the
// SQL statements in it.
func newDB(t testing.TB, statements ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.db")
	if err := schema.Create(path); err != nil {
		t.Fatal(err)
	}
	execSQL(t, path, statements...)
	return path
}

// execSQL runs statements against the database with the sqlite3 driver, as
// an operator's writer would.
func execSQL(t testing.TB, path string, statements ...string) {
	t.Helper()
	if len(statements) == 0 {
		return
	}
	db := openRW(t, path)
	defer db.Close()
	for _, s := range statements {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// freePort returns a loopback port that is free for both UDP and TCP.
func freePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		pc.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free loopback port")
	return 0
}

// server is a running CoreDNS process.
type server struct {
	Addr   string // 127.0.0.1:PORT, for UDP and TCP
	Port   int
	cmd    *exec.Cmd
	output *lockedBuffer
	conf   string
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// corefile fills the template's {PORT} with a free port.
func startServer(t testing.TB, corefile string) *server {
	t.Helper()
	s, err := tryStartServer(t, corefile)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tryStartServer starts CoreDNS with the Corefile, whose {PORT} placeholder
// becomes a free loopback port, and waits until it answers. It returns an
// error, with the server's output, when the server exits or never answers.
func tryStartServer(t testing.TB, corefile string) (*server, error) {
	t.Helper()
	return tryStartBinary(t, binaryPath, corefile)
}

// tryStartBinary is tryStartServer with another CoreDNS binary, such as the
// one unpacked from the container image.
func tryStartBinary(t testing.TB, binary, corefile string) (*server, error) {
	t.Helper()
	port := freePort(t)
	conf := filepath.Join(t.TempDir(), "Corefile")
	if err := os.WriteFile(conf, []byte(strings.ReplaceAll(corefile, "{PORT}", fmt.Sprint(port))), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Port: port, output: &lockedBuffer{}, conf: conf}
	s.cmd = exec.Command(binary, "-conf", conf)
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("server output:\n%s", s.output)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			return nil, fmt.Errorf("server exited (%v):\n%s", err, s.output)
		default:
		}
		m := new(dns.Msg).SetQuestion("health.check.invalid.", dns.TypeTXT)
		if _, _, err := c.Exchange(m, s.Addr); err == nil {
			return s, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("server did not answer on %s within 30s:\n%s", s.Addr, s.output)
}

// Output is what the server logged so far.
func (s *server) Output() string { return s.output.String() }

// PID is the server's process id.
func (s *server) PID() int { return s.cmd.Process.Pid }

// query sends one question over proto ("udp" or "tcp") and returns the reply.
func query(t testing.TB, addr, proto, name string, qtype uint16, edns bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, qtype)
	if edns {
		m.SetEdns0(1232, false)
	}
	c := &dns.Client{Net: proto, Timeout: 3 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", proto, name, dns.TypeToString[qtype], err)
	}
	return r
}

// upstream is a fake resolver that answers every question with data and
// records the questions it was asked.
type upstream struct {
	Addr string
	mu   sync.Mutex
	seen []dns.Question
}

// upstreamA is the address the fake upstream answers every A query with.
const upstreamA = "192.0.2.53"

func startUpstream(t testing.TB) *upstream {
	t.Helper()
	u := &upstream{}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		u.mu.Lock()
		u.seen = append(u.seen, r.Question...)
		u.mu.Unlock()
		m := new(dns.Msg).SetReply(r)
		q := r.Question[0]
		hdr := fmt.Sprintf("%s 300 IN %s ", q.Name, dns.TypeToString[q.Qtype])
		var rr string
		switch q.Qtype {
		case dns.TypeA:
			rr = hdr + upstreamA
		case dns.TypeAAAA:
			rr = hdr + "2001:db8::53"
		case dns.TypeMX:
			rr = hdr + "10 mail.upstream.example."
		case dns.TypeHTTPS:
			rr = hdr + "1 . alpn=h2"
		case dns.TypeTXT:
			rr = hdr + `"upstream"`
		}
		if rr != "" {
			a, err := dns.NewRR(rr)
			if err != nil {
				panic(err)
			}
			m.Answer = append(m.Answer, a)
		}
		w.WriteMsg(m)
	})
	pc, l := listenUDPAndTCP(t)
	udp := &dns.Server{PacketConn: pc, Handler: handler}
	tcp := &dns.Server{Listener: l, Handler: handler}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		udp.ShutdownContext(ctx)
		tcp.ShutdownContext(ctx)
	})
	u.Addr = pc.LocalAddr().String()
	return u
}

// listenUDPAndTCP binds one loopback port for both protocols. The TCP port
// of a fresh UDP port may be taken by another test's connection, so it tries
// again with another port.
func listenUDPAndTCP(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l
		}
		pc.Close()
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return nil, nil
}

// Seen returns the questions the upstream was asked, in order.
func (u *upstream) Seen() []dns.Question {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]dns.Question(nil), u.seen...)
}

// Asked reports whether the upstream was asked about name (compared
// case-insensitively).
func (u *upstream) Asked(name string) bool {
	for _, q := range u.Seen() {
		if strings.EqualFold(q.Name, dns.Fqdn(name)) {
			return true
		}
	}
	return false
}
