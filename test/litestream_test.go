package test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// litestreamVersion is the Litestream the replica tests and the Kubernetes
// manifests use.
const litestreamVersion = "v0.5.18"

var (
	litestreamOnce sync.Once
	litestreamPath string
	litestreamErr  error
)

// litestreamBinary returns Litestream: $SQLITEFILTER_LITESTREAM, or the one
// `go install` put in GOPATH/bin when it is the right version, or one built
// there now from the module proxy (about 2.5 minutes on 2 cores, once per
// machine). It skips the test when none can be had.
func litestreamBinary(t *testing.T) string {
	t.Helper()
	litestreamOnce.Do(func() {
		if p := os.Getenv("SQLITEFILTER_LITESTREAM"); p != "" {
			litestreamPath = p
			return
		}
		gobin, err := exec.Command("go", "env", "GOPATH").Output()
		if err != nil {
			litestreamErr = err
			return
		}
		p := filepath.Join(strings.TrimSpace(strings.Split(string(gobin), string(os.PathListSeparator))[0]), "bin", "litestream")
		if out, err := exec.Command(p, "version").Output(); err == nil && strings.TrimSpace(string(out)) == litestreamVersion {
			litestreamPath = p
			return
		}
		cmd := exec.Command("go", "install", "github.com/benbjohnson/litestream/cmd/litestream@"+litestreamVersion)
		cmd.Env = append(os.Environ(), "GOFLAGS=", "GOBIN="+filepath.Dir(p))
		if out, err := cmd.CombinedOutput(); err != nil {
			litestreamErr = fmt.Errorf("%v\n%s", err, out)
			return
		}
		litestreamPath = p
	})
	if litestreamErr != nil {
		t.Skipf("%s: Litestream %s cannot be built from the module proxy here: %v", t.Name(), litestreamVersion, litestreamErr)
	}
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Skipf("%s: the replicas' one-time switch to the rollback journal needs the sqlite3 shell (apt-get install sqlite3)", t.Name())
	}
	return litestreamPath
}

// manifestData returns a key of a ConfigMap in the Litestream manifests,
// so that the tests run the scripts and the configuration that ship.
func manifestData(t *testing.T, file, key string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../build/kubernetes/litestream", file))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var cm corev1.ConfigMap
		if err := yaml.Unmarshal(doc, &cm); err == nil && cm.Data[key] != "" {
			return cm.Data[key]
		}
	}
	t.Fatalf("no ConfigMap with %s in build/kubernetes/litestream/%s", key, file)
	return ""
}

// followScript writes follow.sh, the script of the DNS pods' sidecar.
func followScript(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "follow.sh")
	if err := os.WriteFile(p, []byte(manifestData(t, "configmap.yaml", "follow.sh")), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// proc is a background process of the test, stopped (its whole process
// group, by its id) at cleanup.
type proc struct {
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
}

func startProc(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(args[0], args[1:]...), out: &lockedBuffer{}, exited: make(chan struct{})}
	// A CA bundle of the environment makes Litestream's S3 client refuse
	// to start; the tests' object store is plain HTTP on loopback.
	p.cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AWS_CA_BUNDLE=") })
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.out)
		}
	})
	return p
}

// stop sends SIGTERM to the process group and waits up to 10 s, then kills it.
func (p *proc) stop() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
}

// replicaNode is one DNS replica: follow.sh keeping its file and CoreDNS
// serving it.
type replicaNode struct {
	name         string
	db           string
	srv          *server
	ready, stats string
	follower     *proc
	started      time.Time
}

func startReplicaNode(t *testing.T, name, litestream, script string, st replicaStore, upstream string) *replicaNode {
	t.Helper()
	n := &replicaNode{name: name, db: filepath.Join(t.TempDir(), "filter.db"), started: time.Now()}
	n.ready = fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	n.stats = fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	// The server first, as in a pod whose containers start together: it
	// waits, not ready, until follow.sh has moved a caught-up replica in.
	n.srv = startServer(t, withPlugins(corefile(n.db, upstream, "on_error fail_closed"), "ready "+n.ready, "prometheus "+n.stats))
	n.follower = startProc(t, name+" follow.sh", append([]string{"DB_PATH=" + n.db, "REPLICA_URL=" + st.url, "LITESTREAM=" + litestream}, st.env...), "sh", script)
	return n
}

func isReady(addr string) bool {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + addr + "/ready")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// lagUntil waits up to max for name's verdict on every node and returns the
// time each took since from.
func lagUntil(t *testing.T, nodes []*replicaNode, name string, blocked bool, from time.Time, max time.Duration) map[string]time.Duration {
	t.Helper()
	lags := map[string]time.Duration{}
	for _, n := range nodes {
		ok := testkit.Poll(time.Until(from.Add(max)), func() bool {
			r := query(t, n.srv.Addr, "udp", name, dns.TypeA, false)
			got := r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1 && strings.HasSuffix(r.Answer[0].String(), "\t0.0.0.0")
			return r.Rcode == dns.RcodeSuccess && got == blocked
		})
		if !ok {
			t.Fatalf("%s: %s not blocked=%v %s after the commit", n.name, name, blocked, max)
		}
		lags[n.name] = time.Since(from).Round(10 * time.Millisecond)
	}
	return lags
}

// TestLitestreamReplicasFollowTheWriter runs testReplicas with a file
// replica (a directory) as the object store.
func TestLitestreamReplicasFollowTheWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("TestLitestreamReplicasFollowTheWriter: not in -short mode")
	}
	dir := t.TempDir()
	storeDir := filepath.Join(dir, "store")
	away := storeDir + ".away"
	testReplicas(t, replicaStore{
		url: "file://" + storeDir,
		// Unreachable: the directory replaced by a file, so that both the
		// writer's uploads and the followers' polls fail.
		down: func() {
			if err := os.Rename(storeDir, away); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(storeDir, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		up: func() {
			if err := os.Remove(storeDir); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(away, storeDir); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// TestLitestreamReplicasFollowThroughS3 is the same with an S3-compatible
// object store: gofakes3 (an in-memory implementation of the S3 API in Go)
// served over HTTP on loopback, which Litestream's own S3 client talks to
// as to any S3 endpoint. Unreachable is its server stopped.
func TestLitestreamReplicasFollowThroughS3(t *testing.T) {
	if testing.Short() {
		t.Skip("TestLitestreamReplicasFollowThroughS3: not in -short mode")
	}
	backend := s3mem.New()
	if err := backend.CreateBucket("replicas"); err != nil {
		t.Fatal(err)
	}
	handler := gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	var srv *http.Server
	serve := func(l net.Listener) {
		srv = &http.Server{Handler: handler}
		go srv.Serve(l)
	}
	serve(l)
	t.Cleanup(func() { srv.Close() })
	endpoint := "http://" + addr
	testReplicas(t, replicaStore{
		url: "s3://replicas/dns.db?endpoint=" + endpoint + "&region=us-east-1&force-path-style=true",
		conf: func(replica, indent string) string {
			return "url: s3://replicas/dns.db\n" + indent + "endpoint: " + endpoint + "\n" + indent + "region: us-east-1\n" + indent + "force-path-style: true"
		},
		env:  []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test"},
		down: func() { srv.Close() },
		up: func() {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			serve(l)
		},
	})
}

// replicaStore is the object store of a replica test.
type replicaStore struct {
	url string // what the followers restore from
	// conf replaces the `url:` line of the writer's replica in the
	// manifests' litestream.yml; nil for url itself.
	conf     func(replica, indent string) string
	env      []string // for every Litestream process
	down, up func()   // make the store unreachable, and reachable again
}

// testReplicas runs a writer under `litestream replicate` to the store, two
// DNS replicas kept by follow.sh (`litestream restore -f`) and the real
// CoreDNS under load, and
// measures per replica how long a commit takes to be enforced: an insert, a
// delete and a 1 M-row import. Then the failures: the writer restarting
// with a commit made while it was down, the store unreachable (the replicas
// keep serving and say how old their data is), and a new replica that is
// ready only once it has caught up. No query may fail or get a wrong answer
// throughout.
func testReplicas(t *testing.T, st replicaStore) {
	litestream := litestreamBinary(t)
	script := followScript(t)
	up := testkit.StartUpstream(t, upstreamRecipe)
	dir := t.TempDir()
	writer := filepath.Join(dir, "writer.db")
	testkit.CreateDB(t, writer, schema.PerType, "wal", testkit.Rows(
		testkit.BlockExact("stable-blocked.example.com", "doomed.example.com"),
		testkit.BlockWildcard("tracker.example.net"),
	)...)
	// The writer's litestream.yml of the manifests, on this machine's paths
	// and with this test's store.
	config := filepath.Join(dir, "litestream.yml")
	conf := strings.ReplaceAll(manifestData(t, "writer.yaml", "litestream.yml"), "/var/lib/sqlitefilter/dns.db", writer)
	urlLine := regexp.MustCompile(`(?m)^( *)url: s3://sqlitefilter-replicas/dns\.db$`)
	if !urlLine.MatchString(conf) {
		t.Fatalf("litestream.yml of the manifests does not replicate to s3://sqlitefilter-replicas/dns.db:\n%s", conf)
	}
	conf = urlLine.ReplaceAllStringFunc(conf, func(line string) string {
		indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
		if st.conf == nil {
			return indent + "url: " + st.url
		}
		return indent + st.conf(st.url, indent)
	})
	if err := os.WriteFile(config, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	replicate := func() *proc {
		return startProc(t, "litestream replicate", st.env, litestream, "replicate", "-config", config)
	}
	w := replicate()
	testkit.Eventually(t, "the first snapshot in the store", 30*time.Second, func() bool {
		return strings.Contains(w.out.String(), "snapshot complete")
	})

	var nodes []*replicaNode
	for _, name := range []string{"replica-a", "replica-b"} {
		nodes = append(nodes, startReplicaNode(t, name, litestream, script, st, up.Addr))
	}
	for _, n := range nodes {
		testkit.Eventually(t, n.name+" ready", 60*time.Second, func() bool { return isReady(n.ready) })
		t.Logf("%s: ready %s after start (restore, catch-up, switch to the rollback journal)", n.name, time.Since(n.started).Round(10*time.Millisecond))
		if !isBlocked(t, n.srv.Addr, "stable-blocked.example.com.") {
			t.Fatalf("%s: ready but the restored data is not served", n.name)
		}
	}
	var loads []*load
	for _, n := range nodes {
		loads = append(loads, startLoad(t, n.srv.Addr, "x.tracker.example.net.", "stable-allowed.example.com."))
	}
	report := func(what string, lags map[string]time.Duration) {
		t.Logf("%-28s lag: replica-a %s, replica-b %s", what, lags["replica-a"], lags["replica-b"])
	}

	// Replication interval (1 s) + the follower's poll (1 s) + refresh (1 s).
	const max = 5 * time.Second
	commit := func(sql string) time.Time {
		cliExec(t, writer, sql)
		return time.Now()
	}
	t0 := commit(`INSERT INTO block_exact VALUES ('new.example.com')`)
	report("insert", lagUntil(t, nodes, "new.example.com.", true, t0, max))
	t0 = commit(`DELETE FROM block_exact WHERE Domain = 'doomed.example.com'`)
	report("delete", lagUntil(t, nodes, "doomed.example.com.", false, t0, max))
	t0 = commit(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999)
		INSERT INTO block_exact SELECT 'imp' || i || '.example.org' FROM n`)
	report("1 M-row import", lagUntil(t, nodes, "imp999999.example.org.", true, t0, 60*time.Second))
	// The key filter took the imported keys from the replicated change log:
	// it is in use again (names in no table are answered by it), and a
	// name in the middle of the import is blocked.
	for _, n := range nodes {
		negatives := func() float64 { return metric(t, n.stats, "coredns_sqlitefilter_bloom_negatives_total{") }
		i := 0
		testkit.Eventually(t, n.name+": the Bloom filter in use after the import", 30*time.Second, func() bool {
			before := negatives()
			for range 5 {
				i++
				query(t, n.srv.Addr, "udp", fmt.Sprintf("absent%d.after-import.example.", i), dns.TypeA, false)
			}
			return negatives() >= before+5
		})
		if !isBlocked(t, n.srv.Addr, "imp500000.example.org.") {
			t.Errorf("%s: imported row not enforced", n.name)
		}
	}
	t0 = commit(`INSERT INTO block_exact VALUES ('after-import.example.com')`)
	report("insert after the import", lagUntil(t, nodes, "after-import.example.com.", true, t0, max))

	// The writer restarts, and a commit made while Litestream was down is
	// replicated once it is back.
	w.stop()
	cliExec(t, writer, `INSERT INTO block_exact VALUES ('while-down.example.com')`)
	t0 = time.Now()
	w = replicate()
	report("commit while writer down", lagUntil(t, nodes, "while-down.example.com.", true, t0, 30*time.Second))

	// The store unreachable: the replicas keep serving their last data.
	st.down()
	commit(`INSERT INTO block_exact VALUES ('during-outage.example.com')`)
	time.Sleep(6 * time.Second)
	for _, n := range nodes {
		if isBlocked(t, n.srv.Addr, "during-outage.example.com.") {
			t.Fatalf("%s: a commit reached the replica while the store was unreachable", n.name)
		}
		if !isBlocked(t, n.srv.Addr, "new.example.com.") {
			t.Fatalf("%s: lost its last data while the store was unreachable", n.name)
		}
		age := metric(t, n.stats, `coredns_sqlitefilter_replica_age_seconds{database="`+n.db+`"}`)
		if age < 5 {
			t.Errorf("%s: replica_age_seconds = %v during a 6 s outage, want ≥ 5", n.name, age)
		}
		t.Logf("%s: replica_age_seconds %.1f after 6 s without the store", n.name, age)
	}
	st.up()
	report("commit made during outage", lagUntil(t, nodes, "during-outage.example.com.", true, time.Now(), 30*time.Second))
	for _, n := range nodes {
		age := metricUntil(t, n.stats, `coredns_sqlitefilter_replica_age_seconds{database="`+n.db+`"}`, func(v float64) bool { return v >= 0 && v < 3 })
		if age < 0 || age >= 3 {
			t.Errorf("%s: replica_age_seconds = %v after the store came back, want < 3", n.name, age)
		}
	}

	// A new replica restores the snapshot and is ready only once it has
	// caught up: from its first ready answer it enforces the latest commit.
	late := startReplicaNode(t, "replica-c", litestream, script, st, up.Addr)
	t0 = commit(`INSERT INTO block_exact VALUES ('latest.example.com')`)
	lagUntil(t, nodes, "latest.example.com.", true, t0, max)
	testkit.Eventually(t, "replica-c ready", 120*time.Second, func() bool { return isReady(late.ready) })
	t.Logf("replica-c: ready %s after start", time.Since(late.started).Round(10*time.Millisecond))
	for _, name := range []string{"latest.example.com.", "imp999999.example.org.", "during-outage.example.com."} {
		if !isBlocked(t, late.srv.Addr, name) {
			t.Errorf("replica-c: ready without %s", name)
		}
	}

	for i, l := range loads {
		l.Stop()
		l.check(t, nodes[i].name+" under load throughout")
	}
}
