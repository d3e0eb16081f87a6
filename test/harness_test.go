// Package test holds end-to-end tests: they build the real CoreDNS binary with
// sqlitefilter, start it on loopback ports and query it with a DNS client.
package test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
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
	port := testkit.FreePort(t)
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
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	var exitErr error
	hasExited := false
	answersOrExited := func() bool {
		select {
		case exitErr = <-exited:
			exited <- exitErr
			hasExited = true
			return true
		default:
		}
		m := new(dns.Msg).SetQuestion("health.check.invalid.", dns.TypeTXT)
		_, _, err := c.Exchange(m, s.Addr)
		return err == nil
	}
	switch {
	case !testkit.Poll(30*time.Second, answersOrExited):
		return nil, fmt.Errorf("server did not answer on %s within 30s:\n%s", s.Addr, s.output)
	case hasExited:
		return nil, fmt.Errorf("server exited (%v):\n%s", exitErr, s.output)
	}
	return s, nil
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

// upstreamA is the address the fake upstream answers every A query with.
const upstreamA = "192.0.2.53"

// upstreamRecipe is how the fake upstream of these tests answers: data for
// A, AAAA, MX, HTTPS and TXT (see testkit.Recipe), with addresses that the
// rewrite rules of the tests match.
var upstreamRecipe = testkit.Recipe{Data: map[uint16]string{
	dns.TypeA:     upstreamA,
	dns.TypeAAAA:  "2001:db8::53",
	dns.TypeMX:    "10 mail.upstream.example.",
	dns.TypeHTTPS: "1 . alpn=h2",
	dns.TypeTXT:   `"upstream"`,
}}
