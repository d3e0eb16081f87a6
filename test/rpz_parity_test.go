package test

import (
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
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// unboundPath is Debian's unbound, the RPZ peer the export is checked against.
const unboundPath = "/usr/sbin/unbound"

// verdict is how an answer to an A query is classified: blocked (NXDOMAIN,
// NOERROR without an A record, or the sinkhole address 0.0.0.0) or passed
// (NOERROR with the address the fake upstream gives that name). Anything
// else (SERVFAIL, another address, no answer) is neither, and fails.
type verdict string

const (
	verdictBlock verdict = "block"
	verdictPass  verdict = "pass"
)

// parityCase is one queried name and the verdict the rows give it.
type parityCase struct {
	name string // FQDN
	want verdict
}

// rpzParityCorpus builds the rows and the names to query: exact blocks (and
// names below them, which pass), wildcard blocks (the name, names below it,
// deep names next to allowed names below it, which a resolver reading
// wildcards at the closest encloser would let through without the export's
// own wildcards), allowed names below blocked wildcards, blocks below
// allowed names (which have no effect), names whose upstream address is in
// block_ip_v4, and clean names.
func rpzParityCorpus() ([]testkit.Row, []parityCase, map[string]map[uint16]string) {
	var rows []testkit.Row
	var cases []parityCase
	byName := map[string]map[uint16]string{}
	add := func(name string, v verdict) { cases = append(cases, parityCase{name + ".", v}) }
	for i := range 2000 {
		n := fmt.Sprintf("ex%d.blocked.test", i)
		rows = append(rows, testkit.BlockExact(n)...)
		add(n, verdictBlock)
		if i%4 == 0 {
			add("sub."+n, verdictPass)
		}
	}
	for i := range 300 {
		w := fmt.Sprintf("w%d.wild.test", i)
		rows = append(rows, testkit.BlockWildcard(w)...)
		add(w, verdictBlock)
		for j := range 4 {
			add(fmt.Sprintf("h%d.%s", j, w), verdictBlock)
		}
		add("a.b.c."+w, verdictBlock)
		// Allowed names below the wildcard, and their neighbours.
		good := fmt.Sprintf("good%d.%s", i, w)
		deep := fmt.Sprintf("m%d.deep.%s", i, w)
		rows = append(rows, testkit.Allow(good, deep)...)
		add(good, verdictPass)
		add("x."+good, verdictPass)
		add("deep."+w, verdictBlock)
		add(deep, verdictPass)
		add("y."+deep, verdictPass)
		add("a.deep."+w, verdictBlock)
		add("zz.deep."+w, verdictBlock)
		add("q.zz.deep."+w, verdictBlock)
		// An exact block below the wildcard changes nothing.
		rows = append(rows, testkit.BlockExact("e."+w)...)
		add("e."+w, verdictBlock)
		add("f.e."+w, verdictBlock)
	}
	for i := range 500 {
		a := fmt.Sprintf("al%d.allowed.test", i)
		rows = append(rows, testkit.Allow(a)...)
		rows = append(rows, testkit.BlockExact("ads."+a)...)
		rows = append(rows, testkit.BlockWildcard("t."+a)...)
		add(a, verdictPass)
		add("ads."+a, verdictPass)
		add("t."+a, verdictPass)
		add("x.t."+a, verdictPass)
		add("www."+a, verdictPass)
	}
	rows = append(rows, testkit.BlockIPv4("203.0.113.0/24")...)
	for i := range 200 {
		n := fmt.Sprintf("badip%d.test", i)
		byName[n+"."] = map[uint16]string{dns.TypeA: fmt.Sprintf("203.0.113.%d", i%250+1)}
		add(n, verdictBlock)
	}
	for i := range 3000 {
		add(fmt.Sprintf("clean%d.example", i), verdictPass)
	}
	return rows, cases, byName
}

// unboundConfig is a forwarding unbound on 127.0.0.1:port with the zone as
// its only RPZ, every query sent to upstream.
func unboundConfig(dir string, port int, zone, upstream string) string {
	host, upPort, _ := strings.Cut(upstream, ":")
	return fmt.Sprintf(`server:
    interface: 127.0.0.1
    port: %d
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    chroot: ""
    username: ""
    directory: %q
    pidfile: %q
    logfile: %q
    use-syslog: no
    verbosity: 1
    num-threads: 1
    so-reuseport: no
    qname-minimisation: no
    module-config: "respip iterator"
    # The names of the test are under test., which unbound otherwise
    # answers itself with NXDOMAIN (a special-use name).
    local-zone: "test." nodefault
rpz:
    name: "rpz.sqlitefilter."
    zonefile: %q
forward-zone:
    name: "."
    forward-addr: %s@%s
`, port, dir, filepath.Join(dir, "unbound.pid"), filepath.Join(dir, "unbound.log"), zone, host, upPort)
}

// startUnbound runs unbound in the foreground until the test ends and waits
// until it answers.
func startUnbound(t *testing.T, zone, upstream string) string {
	t.Helper()
	dir := t.TempDir()
	port := testkit.FreePort(t)
	conf := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(conf, []byte(unboundConfig(dir, port, zone, upstream)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(unboundPath, "-d", "-c", conf)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "unbound.log"))
			t.Logf("unbound output:\n%s%s", out, log)
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	answers := func() bool {
		select {
		case err := <-exited:
			exited <- err
			return true
		default:
		}
		_, _, err := c.Exchange(new(dns.Msg).SetQuestion("health.check.invalid.", dns.TypeA), addr)
		return err == nil
	}
	if !testkit.Poll(20*time.Second, answers) {
		t.Fatalf("unbound did not answer on %s:\n%s", addr, out)
	}
	select {
	case err := <-exited:
		log, _ := os.ReadFile(filepath.Join(dir, "unbound.log"))
		t.Fatalf("unbound exited (%v):\n%s%s", err, out, log)
	default:
	}
	return addr
}

// classify is the verdict of an answer to an A query for a name the fake
// upstream answers with addr.
func classify(r *dns.Msg, addr string) (verdict, string) {
	switch r.Rcode {
	case dns.RcodeNameError:
		return verdictBlock, ""
	case dns.RcodeSuccess:
	default:
		return "", "rcode " + dns.RcodeToString[r.Rcode]
	}
	var got []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			got = append(got, a.A.String())
		}
	}
	switch {
	case len(got) == 0, len(got) == 1 && got[0] == "0.0.0.0":
		return verdictBlock, ""
	case len(got) == 1 && got[0] == addr:
		return verdictPass, ""
	}
	return "", "addresses " + strings.Join(got, " ")
}

// verdicts queries every name over UDP at addr, a few at a time, and
// returns the verdict of each (or why it has none).
func verdicts(t *testing.T, addr string, cases []parityCase, upstreamAddr func(string) string) ([]verdict, []string) {
	t.Helper()
	got := make([]verdict, len(cases))
	why := make([]string, len(cases))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Timeout: 2 * time.Second}
			for i := range next {
				m := new(dns.Msg).SetQuestion(cases[i].name, dns.TypeA)
				var r *dns.Msg
				var err error
				for try := 0; try < 3; try++ {
					if r, _, err = c.Exchange(m, addr); err == nil {
						break
					}
				}
				if err != nil {
					why[i] = err.Error()
					continue
				}
				got[i], why[i] = classify(r, upstreamAddr(cases[i].name))
			}
		}()
	}
	for i := range cases {
		next <- i
	}
	close(next)
	wg.Wait()
	return got, why
}

// TestRPZExportVerdictParityWithUnbound exports a database of 10 000+ names
// as RPZ, serves the zone with unbound and the database with sqlitefilter,
// both forwarding to the same fake upstream, and asks both every name: each
// gets the same block or pass verdict from both, the one the rows give it.
func TestRPZExportVerdictParityWithUnbound(t *testing.T) {
	if _, err := os.Stat(unboundPath); err != nil {
		t.Skipf("unbound is not installed (%v)", err)
	}
	rows, cases, byName := rpzParityCorpus()
	up := testkit.StartUpstream(t, testkit.Recipe{Data: map[uint16]string{dns.TypeA: upstreamA}, ByName: byName})
	upstreamAddr := func(name string) string {
		if d, ok := byName[name]; ok {
			return d[dns.TypeA]
		}
		return upstreamA
	}
	db := testkit.NewDB(t, schema.PerType, "wal", rows...)
	zone := filepath.Join(t.TempDir(), "zone.rpz")
	export := exec.Command(adminBinary(t), "export", db, "--format", "rpz")
	var stderr strings.Builder
	export.Stderr = &stderr
	text, err := export.Output()
	if err != nil {
		t.Fatalf("export: %v\n%s", err, stderr.String())
	}
	if err := os.WriteFile(zone, text, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("zone: %d lines; export said: %s", strings.Count(string(text), "\n"), strings.TrimSpace(stderr.String()))

	peer := startUnbound(t, zone, up.Addr)
	srv := startServer(t, fmt.Sprintf(".:{PORT} {\n    bind 127.0.0.1\n    sqlitefilter %s\n    forward . %s\n}\n", db, up.Addr))
	if !testkit.Poll(20*time.Second, func() bool { return strings.Contains(srv.Output(), "regex patterns") }) {
		t.Fatalf("in-memory rules not loaded:\n%s", srv.Output())
	}

	start := time.Now()
	ours, ourWhy := verdicts(t, srv.Addr, cases, upstreamAddr)
	theirs, theirWhy := verdicts(t, peer, cases, upstreamAddr)
	mismatches, shown := 0, 0
	counts := map[verdict]int{}
	for i, c := range cases {
		counts[ours[i]]++
		if ours[i] == c.want && theirs[i] == c.want {
			continue
		}
		mismatches++
		if shown++; shown <= 20 {
			t.Errorf("%s: want %s, sqlitefilter %s %s, unbound %s %s", c.name, c.want, ours[i], ourWhy[i], theirs[i], theirWhy[i])
		}
	}
	t.Logf("%d names compared in %s (sqlitefilter: %d block, %d pass): %d mismatches",
		len(cases), time.Since(start).Round(time.Millisecond), counts[verdictBlock], counts[verdictPass], mismatches)
	if mismatches > 0 {
		t.Errorf("%d of %d names without the expected verdict on both", mismatches, len(cases))
	}
}

// TestRPZExportLoadsInBINDAndKnot: the zone the parity test serves with
// unbound is also accepted by BIND's and Knot's own zone checkers
// (named-checkzone, kzonecheck), each skipped when not installed.
func TestRPZExportLoadsInBINDAndKnot(t *testing.T) {
	rows, _, _ := rpzParityCorpus()
	db := testkit.NewDB(t, schema.PerType, "wal", rows...)
	zone := filepath.Join(t.TempDir(), "zone.rpz")
	out, err := exec.Command(adminBinary(t), "export", db, "--format", "rpz", "--origin", "rpz.example.").Output()
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if err := os.WriteFile(zone, out, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"named-checkzone", []string{"rpz.example.", zone}},
		{"kzonecheck", []string{"-o", "rpz.example.", zone}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path, err := exec.LookPath(c.name)
			if err != nil {
				t.Skipf("%s is not installed", c.name)
			}
			if msg, err := exec.Command(path, c.args...).CombinedOutput(); err != nil {
				t.Errorf("%s refused the exported zone: %v\n%s", c.name, err, msg)
			}
		})
	}
}
