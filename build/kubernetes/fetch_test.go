package kubernetes_test

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	_ "github.com/mattn/go-sqlite3"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// publisher serves one database file and its checksum on loopback, as the
// operator's publishing host would.
type publisher struct {
	mu        sync.Mutex
	db, sum   []byte
	downloads int
	srv       *httptest.Server
}

func newPublisher(t *testing.T) *publisher {
	p := &publisher{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch r.URL.Path {
		case "/dns.db":
			p.downloads++
			w.Write(p.db)
		case "/dns.db.sha256":
			w.Write(p.sum)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// publish serves db with its true checksum, or with sum when given.
func (p *publisher) publish(db []byte, sum string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if sum == "" {
		h := sha256.Sum256(db)
		sum = hex.EncodeToString(h[:])
	}
	p.db, p.sum = db, []byte(sum+"  dns.db\n")
}

func (p *publisher) Downloads() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.downloads
}

// makeDB returns the bytes of a database holding one block_exact row, in
// the journal mode given (delete or wal).
func makeDB(t *testing.T, row, journalMode string) []byte {
	t.Helper()
	b, err := os.ReadFile(testkit.NewDB(t, schema.PerType, journalMode, testkit.BlockExact(row)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// shell is how fetch.sh is run: by the host's sh with its tools, or by
// busybox's ash with busybox's tools, as in the curl image the manifests use.
type shell struct {
	name string
	path string // PATH for the script; "" keeps the test's
}

// shells returns the shells to run fetch.sh with; busybox is skipped by name
// when it is not installed.
func shells(t *testing.T) []shell {
	t.Helper()
	out := []shell{{name: "sh"}}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Logf("%s: busybox is not installed (apt-get install busybox): fetch.sh is not run with busybox's ash and tools", t.Name())
		return out
	}
	dir := t.TempDir()
	if out, err := exec.Command(bb, "--install", "-s", dir).CombinedOutput(); err != nil {
		t.Fatalf("busybox --install: %v\n%s", err, out)
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(curl, filepath.Join(dir, "curl")); err != nil {
		t.Fatal(err)
	}
	return append(out, shell{name: "busybox", path: dir})
}

// fetchScript writes the ConfigMap's fetch.sh to a file and returns its path.
func fetchScript(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"sh", "curl", "sha256sum", "od", "head", "tail"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s: %s is not installed (apt-get install %s)", t.Name(), tool, tool)
		}
	}
	m := loadManifests(t)
	script := get[*corev1.ConfigMap](t, m, "ConfigMap/sqlitefilter-fetch").Data["fetch.sh"]
	path := filepath.Join(t.TempDir(), "fetch.sh")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// eachShell runs test as a subtest per shell, with the ConfigMap's fetch.sh.
func eachShell(t *testing.T, test func(t *testing.T, sh shell, script string)) {
	script := fetchScript(t)
	for _, sh := range shells(t) {
		t.Run(sh.name, func(t *testing.T) { test(t, sh, script) })
	}
}

func (sh shell) fetchCmd(script, url, dbPath, mode string) *exec.Cmd {
	cmd := exec.Command("sh", script, mode)
	cmd.Env = append(os.Environ(), "DB_URL="+url+"/dns.db", "DB_PATH="+dbPath, "INTERVAL=0.2")
	if sh.path != "" {
		cmd.Path = filepath.Join(sh.path, "sh")
		cmd.Env = append(cmd.Env, "PATH="+sh.path)
	}
	return cmd
}

// blockedRow reads the single block_exact row through a fresh connection.
func blockedRow(t *testing.T, path string) string {
	t.Helper()
	db := testkit.OpenRO(t, path)
	defer db.Close()
	var row string
	if err := db.QueryRow("SELECT Domain FROM block_exact").Scan(&row); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return row
}

func TestFetchInstallsOnlyVerifiedRollbackJournalDatabases(t *testing.T) {
	eachShell(t, testFetchInstalls)
}

func testFetchInstalls(t *testing.T, sh shell, script string) {
	pub := newPublisher(t)
	dbPath := filepath.Join(t.TempDir(), "dns.db")
	once := func() (string, error) {
		out, err := sh.fetchCmd(script, pub.srv.URL, dbPath, "once").CombinedOutput()
		return string(out), err
	}

	// No database yet and nothing to fetch: the init container fails, so
	// the pod does not start without data.
	if out, err := once(); err == nil {
		t.Fatalf("once succeeded with nothing published and no database:\n%s", out)
	}

	pub.publish(makeDB(t, "one.example", "delete"), "")
	if out, err := once(); err != nil {
		t.Fatalf("first fetch: %v\n%s", err, out)
	}
	if got := blockedRow(t, dbPath); got != "one.example" {
		t.Fatalf("installed database holds %q", got)
	}
	if out, err := once(); err != nil || pub.Downloads() != 1 {
		t.Fatalf("unchanged checksum: %v, %d downloads, want 1\n%s", err, pub.Downloads(), out)
	}

	// Every bad publication is refused and leaves the installed database;
	// once still succeeds, serving the last good copy.
	tests := []struct {
		name, want string
		db         []byte
		sum        string
		sidecar    string // a file to put next to the database first
	}{
		{"WAL mode", "WAL mode", makeDB(t, "wal.example", "wal"), "", ""},
		{"checksum mismatch", "SHA-256", makeDB(t, "two.example", "delete"), strings.Repeat("ab", 32), ""},
		{"not a database", "not a SQLite database", bytes.Repeat([]byte("<html>"), 100), "", ""},
		{"bad checksum file", "holds no SHA-256", makeDB(t, "two.example", "delete"), "<html>", ""},
		{"stale -wal next to the database", "-wal exists", makeDB(t, "two.example", "delete"), "", dbPath + "-wal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.sidecar != "" {
				os.WriteFile(tc.sidecar, nil, 0o644)
				defer os.Remove(tc.sidecar)
			}
			pub.publish(tc.db, tc.sum)
			out, err := once()
			if err != nil || !strings.Contains(out, tc.want) {
				t.Errorf("once: %v, output %q, want success with a message containing %q", err, out, tc.want)
			}
			if got := blockedRow(t, dbPath); got != "one.example" {
				t.Errorf("the installed database was replaced: holds %q", got)
			}
			if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dbPath), ".*.new")); len(leftovers) != 0 {
				t.Errorf("download left behind: %v", leftovers)
			}
		})
	}
}

func TestFetchLoopSwapsUnderAnOpenReaderAndStopsOnTERM(t *testing.T) {
	eachShell(t, testFetchLoop)
}

func testFetchLoop(t *testing.T, sh shell, script string) {
	pub := newPublisher(t)
	dbPath := filepath.Join(t.TempDir(), "dns.db")
	pub.publish(makeDB(t, "one.example", "delete"), "")
	if out, err := sh.fetchCmd(script, pub.srv.URL, dbPath, "once").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	// A reader holding the old file open, as the plugin's pool does.
	reader, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	reader.SetMaxOpenConns(1)
	read := func() string {
		var row string
		if err := reader.QueryRow("SELECT Domain FROM block_exact").Scan(&row); err != nil {
			t.Fatalf("reader attached during the swap: %v", err)
		}
		return row
	}
	if got := read(); got != "one.example" {
		t.Fatalf("reader sees %q", got)
	}

	var out bytes.Buffer
	loop := sh.fetchCmd(script, pub.srv.URL, dbPath, "loop")
	loop.Stdout, loop.Stderr = &out, &out
	if err := loop.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- loop.Wait() }()
	defer func() {
		loop.Process.Kill()
		<-done
	}()

	pub.publish(makeDB(t, "two.example", "delete"), "")
	if !testkit.Poll(10*time.Second, func() bool { return blockedRow(t, dbPath) == "two.example" }) {
		t.Fatalf("the sidecar did not install the new database:\n%s", out.String())
	}
	// The open connection still reads the old, intact file: the swap
	// replaced the name, not the pages under the reader.
	if got := read(); got != "one.example" {
		t.Errorf("reader attached during the swap sees %q, want the old file's one.example", got)
	}

	loop.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Errorf("loop exited with %v on TERM, want 0", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("loop ignored TERM for 5s")
	}
}
