package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
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

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// resource is what the test list server answers for one path.
type resource struct {
	status      int       // 0: serve body (200, or 304 to a matching conditional request)
	body        string    // served with http.ServeContent, which answers conditional requests
	etag        string    // sent as ETag when set
	modified    time.Time // sent as Last-Modified when set
	contentType string
	truncate    bool // declare the body's length, send half of it, hang up
	stall       bool // declare a long body, send this one, then wait for the client to go
}

// request is what the server saw of one request.
type request struct {
	path, ifNoneMatch, ifModifiedSince string
}

// listServer serves lists on 127.0.0.1 and records the requests.
type listServer struct {
	*httptest.Server
	mu        sync.Mutex
	resources map[string]resource
	requests  []request
	stalled   chan struct{} // gets a value when a stalling answer has sent its start
}

func newListServer(t *testing.T) *listServer {
	s := &listServer{resources: map[string]resource{}, stalled: make(chan struct{}, 1)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *listServer) set(path string, r resource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resources[path] = r
}

// last returns the last request for path.
func (s *listServer) last(path string) request {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.requests) - 1; i >= 0; i-- {
		if s.requests[i].path == path {
			return s.requests[i]
		}
	}
	return request{}
}

func (s *listServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, request{r.URL.Path, r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since")})
	res, ok := s.resources[r.URL.Path]
	s.mu.Unlock()
	switch {
	case !ok:
		http.NotFound(w, r)
	case res.status != 0:
		http.Error(w, http.StatusText(res.status), res.status)
	case res.truncate:
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nETag: %s\r\n\r\n%s", len(res.body), res.etag, res.body[:len(res.body)/2])
		buf.Flush()
		conn.Close()
	case res.stall:
		w.Header().Set("Content-Length", "1000000")
		fmt.Fprint(w, res.body)
		w.(http.Flusher).Flush()
		select {
		case s.stalled <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	default:
		if res.etag != "" {
			w.Header().Set("ETag", res.etag)
		}
		if res.contentType != "" {
			w.Header().Set("Content-Type", res.contentType)
		}
		http.ServeContent(w, r, "", res.modified, strings.NewReader(res.body))
	}
}

// addURLList adds a list with a URL to the database at path.
func addURLList(t *testing.T, path, name, url, format string) {
	t.Helper()
	_, err := captured(t, func() error { return runList([]string{"add", path, name, "--url", url, "--format", format}) })
	must(t, "list add "+name, err)
}

// syncResult is what a sync printed and returned.
type syncResult struct {
	stdout, stderr string
	err            error
}

func runSyncJob(t *testing.T, path string, timeout time.Duration, names ...string) syncResult {
	t.Helper()
	var out, errOut bytes.Buffer
	j := &syncJob{dbPath: path, timeout: timeout, names: names, client: &http.Client{}, stdout: &out, stderr: &errOut}
	err := j.run(context.Background())
	return syncResult{out.String(), errOut.String(), err}
}

// watcher holds one connection to a database, whose PRAGMA data_version
// moves when any other connection commits: the way the plugin notices a
// write.
type watcher struct {
	conn *sql.Conn
	db   *sql.DB
}

func watch(t *testing.T, path string) *watcher {
	t.Helper()
	db := testkit.OpenRO(t, path)
	conn, err := db.Conn(context.Background())
	must(t, "conn", err)
	t.Cleanup(func() { conn.Close(); db.Close() })
	return &watcher{conn, db}
}

func (w *watcher) version(t *testing.T) int64 {
	t.Helper()
	var v int64
	must(t, "data_version", w.conn.QueryRowContext(context.Background(), "PRAGMA data_version").Scan(&v))
	return v
}

// hosts is a hosts file blocking names.
func hosts(names ...string) string {
	var b strings.Builder
	b.WriteString("# a test list\n127.0.0.1 localhost\n")
	for _, n := range names {
		fmt.Fprintf(&b, "0.0.0.0 %s\n", n)
	}
	return b.String()
}

// syncStatus is the status sync recorded for the list.
func syncStatus(t *testing.T, path, list string) string {
	t.Helper()
	db := testkit.OpenRO(t, path)
	defer db.Close()
	var s string
	must(t, "status", db.QueryRow("SELECT s.status FROM sqlitefilter_list_sync s JOIN sqlitefilter_lists l ON l.id = s.list_id WHERE l.name = ?", list).Scan(&s))
	return s
}

// TestSyncFollowsAnHTTPList walks one list through the answers a source
// gives over time: a first body, 304s, changes, and the failures that must
// leave the list's rows as they were.
func TestSyncFollowsAnHTTPList(t *testing.T) {
	const ads = 2 // the mask of the first list added
	lastMod := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		name     string
		serve    resource
		outcome  string // in the summary line
		failed   bool
		write    bool     // the database was committed to
		sentETag string   // If-None-Match of the request
		sentLM   string   // If-Modified-Since of the request
		in, out  []string // names in and not in the list afterwards
		stderr   string
	}{
		{name: "first body", serve: resource{body: hosts("a.example", "b.example"), etag: `"v1"`},
			outcome: "updated: +2 -0, 2 rows", write: true, in: []string{"a.example", "b.example"}},
		{name: "not modified", serve: resource{body: hosts("a.example", "b.example"), etag: `"v1"`},
			outcome: "unchanged (304 Not Modified)", sentETag: `"v1"`, in: []string{"a.example", "b.example"}},
		{name: "changed", serve: resource{body: hosts("a.example", "c.example", "d.example"), etag: `"v2"`},
			outcome: "updated: +2 -1, 3 rows", write: true, sentETag: `"v1"`, in: []string{"a.example", "c.example", "d.example"}, out: []string{"b.example"}},
		{name: "not found", serve: resource{status: http.StatusNotFound},
			outcome: "failed: HTTP 404 Not Found", failed: true, write: true, sentETag: `"v2"`, in: []string{"a.example", "c.example", "d.example"},
			stderr: "list ads (URL): HTTP 404 Not Found; its rows are kept"},
		{name: "back and not modified", serve: resource{body: hosts("a.example", "c.example", "d.example"), etag: `"v2"`},
			outcome: "unchanged (304 Not Modified)", write: true, sentETag: `"v2"`, in: []string{"a.example", "c.example", "d.example"}},
		{name: "truncated body", serve: resource{body: hosts("e.example", "f.example", "g.example"), etag: `"v3"`, truncate: true},
			outcome: "failed: truncated body", failed: true, write: true, sentETag: `"v2"`, in: []string{"a.example", "c.example", "d.example"}, out: []string{"e.example"}},
		{name: "wrong format", serve: resource{body: "||x.example^\n||y.example^\n||z.example^\n", etag: `"v4"`},
			outcome: "failed: not a hosts list: 0 rows and 3 invalid lines", failed: true, write: true, sentETag: `"v2"`,
			in: []string{"a.example", "c.example", "d.example"}, out: []string{"x.example"}, stderr: "list ads (URL): not a hosts list"},
		{name: "an HTML page", serve: resource{body: "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n<body>0.0.0.0 portal.example please log in</body></html>\n", etag: `"v5"`, contentType: "text/html; charset=utf-8"},
			outcome: "the server sent an HTML page", failed: true, write: true, sentETag: `"v2"`,
			in: []string{"a.example", "c.example", "d.example"}, out: []string{"portal.example"}},
		{name: "same body, new validator", serve: resource{body: hosts("a.example", "c.example", "d.example"), etag: `"v6"`},
			outcome: "unchanged (same content)", write: true, sentETag: `"v2"`, in: []string{"a.example", "c.example", "d.example"}},
		{name: "new validator used", serve: resource{body: hosts("a.example", "c.example", "d.example"), etag: `"v6"`},
			outcome: "unchanged (304 Not Modified)", sentETag: `"v6"`, in: []string{"a.example", "c.example", "d.example"}},
		{name: "last-modified only", serve: resource{body: hosts("a.example", "h.example"), modified: lastMod},
			outcome: "updated: +1 -2, 2 rows", write: true, sentETag: `"v6"`, in: []string{"a.example", "h.example"}, out: []string{"c.example", "d.example"}},
		{name: "if-modified-since sent", serve: resource{body: hosts("a.example", "h.example"), modified: lastMod},
			outcome: "unchanged (304 Not Modified)", sentLM: lastMod.Format(http.TimeFormat), in: []string{"a.example", "h.example"}},
	}
	for _, l := range []schema.Layout{schema.PerType, schema.Normalized} {
		t.Run(l.String(), func(t *testing.T) {
			srv := newListServer(t)
			db := testkit.NewDB(t, l, "wal", testkit.BlockExact("legacy.example")...)
			url := srv.URL + "/ads.txt"
			addURLList(t, db, "ads", url, "hosts")
			w := watch(t, db)
			for _, st := range steps {
				srv.set("/ads.txt", st.serve)
				before := w.version(t)
				r := runSyncJob(t, db, 5*time.Second)
				if st.failed != (r.err != nil) {
					t.Fatalf("%s: err %v; stdout %q stderr %q", st.name, r.err, r.stdout, r.stderr)
				}
				if !strings.HasPrefix(r.stdout, "ads: ") || !strings.Contains(r.stdout, st.outcome) || strings.Count(r.stdout, "\n") != 1 {
					t.Errorf("%s: stdout %q, want one line with %q", st.name, r.stdout, st.outcome)
				}
				if want := strings.ReplaceAll(st.stderr, "URL", url); !strings.Contains(r.stderr, want) {
					t.Errorf("%s: stderr %q, want %q", st.name, r.stderr, want)
				}
				if wrote := w.version(t) != before; wrote != st.write {
					t.Errorf("%s: database written %v, want %v", st.name, wrote, st.write)
				}
				req := srv.last("/ads.txt")
				if req.ifNoneMatch != st.sentETag || req.ifModifiedSince != st.sentLM {
					t.Errorf("%s: sent If-None-Match %q If-Modified-Since %q, want %q %q", st.name, req.ifNoneMatch, req.ifModifiedSince, st.sentETag, st.sentLM)
				}
				for _, n := range st.in {
					if m := membership(t, db, l, schema.BlockExact, n); m&ads == 0 {
						t.Errorf("%s: %s not in the list (mask %b)", st.name, n, m)
					}
				}
				for _, n := range st.out {
					if m := membership(t, db, l, schema.BlockExact, n); m != 0 {
						t.Errorf("%s: %s still stored (mask %b)", st.name, n, m)
					}
				}
				if m := membership(t, db, l, schema.BlockExact, "legacy.example"); m != 1 {
					t.Errorf("%s: a row of default changed: mask %b", st.name, m)
				}
				if status := syncStatus(t, db, "ads"); st.failed != strings.HasPrefix(status, "failed: ") {
					t.Errorf("%s: recorded status %q", st.name, status)
				}
			}
			out, err := captured(t, func() error { return runLists([]string{db}) })
			must(t, "lists", err)
			if !strings.Contains(out, "LAST SYNC") || !strings.Contains(out, " ok\n") {
				t.Errorf("lists does not show the sync:\n%s", out)
			}
		})
	}
}

// TestSyncFileList: a list whose URL is a path or a file:// URL is read
// again only when its size or modification time moved, and re-imported only
// when its content did.
func TestSyncFileList(t *testing.T) {
	for _, form := range []string{"path", "file URL"} {
		t.Run(form, func(t *testing.T) {
			db := testkit.NewDB(t, schema.PerType, "wal")
			src := filepath.Join(t.TempDir(), "mine.txt")
			must(t, "write", os.WriteFile(src, []byte("one.example\ntwo.example\n"), 0o644))
			url := src
			if form == "file URL" {
				url = "file://" + src
			}
			addURLList(t, db, "mine", url, "plain")
			w := watch(t, db)
			mtime := time.Now().Add(-time.Hour)
			steps := []struct {
				name    string
				change  func()
				outcome string
				write   bool
				in, out []string
			}{
				{"first read", func() {}, "updated: +2 -0, 2 rows", true, []string{"one.example", "two.example"}, nil},
				{"untouched", func() {}, "unchanged (same size and modification time)", false, []string{"one.example", "two.example"}, nil},
				{"touched, same content", func() { mtime = mtime.Add(time.Minute); must(t, "chtimes", os.Chtimes(src, mtime, mtime)) },
					"unchanged (same content)", true, []string{"one.example", "two.example"}, nil},
				{"edited", func() {
					must(t, "write", os.WriteFile(src, []byte("two.example\nthree.example\n"), 0o644))
					mtime = mtime.Add(time.Minute)
					must(t, "chtimes", os.Chtimes(src, mtime, mtime))
				}, "updated: +1 -1, 2 rows", true, []string{"two.example", "three.example"}, []string{"one.example"}},
			}
			for _, st := range steps {
				st.change()
				before := w.version(t)
				r := runSyncJob(t, db, 5*time.Second)
				if r.err != nil || !strings.Contains(r.stdout, "mine: "+st.outcome) {
					t.Fatalf("%s: %v; stdout %q stderr %q", st.name, r.err, r.stdout, r.stderr)
				}
				if wrote := w.version(t) != before; wrote != st.write {
					t.Errorf("%s: database written %v, want %v", st.name, wrote, st.write)
				}
				for _, n := range st.in {
					if m := membership(t, db, schema.PerType, schema.BlockExact, n); m&2 == 0 {
						t.Errorf("%s: %s not in the list (mask %b)", st.name, n, m)
					}
				}
				for _, n := range st.out {
					if m := membership(t, db, schema.PerType, schema.BlockExact, n); m != 0 {
						t.Errorf("%s: %s still stored (mask %b)", st.name, n, m)
					}
				}
			}
		})
	}
}

// TestSyncRPZList: a list whose source is a Response Policy Zone fills the
// tables its triggers say (block_exact, block_wildcard, fqdn_dns_allow), and
// a changed zone replaces the list's rows in all of them.
func TestSyncRPZList(t *testing.T) {
	db := testkit.NewDB(t, schema.PerType, "wal")
	src := filepath.Join(t.TempDir(), "policy.rpz")
	zone := func(body string) {
		t.Helper()
		must(t, "write", os.WriteFile(src, []byte("$ORIGIN rpz.test.\n@ 300 IN SOA ns.rpz.test. admin.rpz.test. 1 3600 600 86400 60\n@ 300 IN NS ns.rpz.test.\n"+body), 0o644))
	}
	zone("ads.example CNAME .\ntrack.example CNAME .\n*.track.example CNAME .\nok.track.example CNAME rpz-passthru.\n*.ok.track.example CNAME rpz-passthru.\n")
	addURLList(t, db, "zone", src, "rpz")
	if r := runSyncJob(t, db, 5*time.Second); r.err != nil || !strings.Contains(r.stdout, "zone: updated") {
		t.Fatalf("first sync: %v; stdout %q stderr %q", r.err, r.stdout, r.stderr)
	}
	for _, c := range []struct {
		table schema.Table
		name  string
	}{{schema.BlockExact, "ads.example"}, {schema.BlockWildcard, "track.example"}, {schema.Allow, "ok.track.example"}} {
		if m := membership(t, db, schema.PerType, c.table, c.name); m&2 == 0 {
			t.Errorf("%s %s not in the list (mask %b)", c.table, c.name, m)
		}
	}
	zone("other.example CNAME .\n")
	mtime := time.Now().Add(time.Minute)
	must(t, "chtimes", os.Chtimes(src, mtime, mtime))
	if r := runSyncJob(t, db, 5*time.Second); r.err != nil || !strings.Contains(r.stdout, "zone: updated") {
		t.Fatalf("second sync: %v; stdout %q stderr %q", r.err, r.stdout, r.stderr)
	}
	if m := membership(t, db, schema.PerType, schema.BlockExact, "other.example"); m&2 == 0 {
		t.Errorf("other.example not in the list (mask %b)", m)
	}
	for _, c := range []struct {
		table schema.Table
		name  string
	}{{schema.BlockExact, "ads.example"}, {schema.BlockWildcard, "track.example"}, {schema.Allow, "ok.track.example"}} {
		if m := membership(t, db, schema.PerType, c.table, c.name); m != 0 {
			t.Errorf("%s %s still stored after the zone dropped it (mask %b)", c.table, c.name, m)
		}
	}
}

// TestSyncOneListFailsOthersSync: every list is tried; the failing ones keep
// their rows, are named with their URL and the reason, and make the sync
// fail as a whole so that a scheduler notices.
func TestSyncOneListFailsOthersSync(t *testing.T) {
	srv := newListServer(t)
	srv.set("/good.txt", resource{body: "||good.example^\n@@||fine.good.example^\n", etag: `"g"`})
	srv.set("/hangs.txt", resource{body: hosts("first.example"), stall: true})
	db := testkit.NewDB(t, schema.PerType, "wal")
	addURLList(t, db, "good", srv.URL+"/good.txt", "adblock")
	addURLList(t, db, "gone", srv.URL+"/gone.txt", "hosts")
	refused := "http://" + testkit.DeadAddr(t) + "/list.txt"
	addURLList(t, db, "refused", refused, "hosts")
	addURLList(t, db, "hangs", srv.URL+"/hangs.txt", "hosts")
	addURLList(t, db, "ftp", "ftp://127.0.0.1/list.txt", "hosts")

	r := runSyncJob(t, db, 500*time.Millisecond)
	if r.err == nil || !strings.Contains(r.err.Error(), "4 of 5 lists failed") || exitCode(r.err) != 1 {
		t.Fatalf("err %v (exit %d); stdout %q", r.err, exitCode(r.err), r.stdout)
	}
	for _, want := range []string{
		"good: updated: +2 -0, 2 rows\n",
		"gone: failed: HTTP 404 Not Found\n",
		"refused: failed: ",
		"hangs: failed: no complete answer within 500ms",
		"ftp: failed: cannot fetch a ftp URL",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout %q, want %q", r.stdout, want)
		}
	}
	if !strings.Contains(r.stdout, "refused: failed: ") || !strings.Contains(r.stdout, "connection refused") {
		t.Errorf("stdout %q: the refused connection not said", r.stdout)
	}
	for _, want := range []string{"list gone (" + srv.URL + "/gone.txt)", "list refused (" + refused + ")", "list hangs (" + srv.URL + "/hangs.txt)"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q, want %q", r.stderr, want)
		}
	}
	if m := membership(t, db, schema.PerType, schema.BlockWildcard, "good.example"); m != 2 {
		t.Errorf("good.example: mask %b, want the list good's", m)
	}
	if m := membership(t, db, schema.PerType, schema.Allow, "fine.good.example"); m != 2 {
		t.Errorf("fine.good.example (an @@ rule): mask %b, want the list good's", m)
	}
	if s := syncStatus(t, db, "hangs"); !strings.HasPrefix(s, "failed: no complete answer") {
		t.Errorf("status of hangs: %q", s)
	}

	// --list syncs only the lists named.
	srv.set("/gone.txt", resource{body: hosts("back.example")})
	r = runSyncJob(t, db, 5*time.Second, "gone")
	if r.err != nil || r.stdout != "gone: updated: +1 -0, 1 rows\n" {
		t.Errorf("sync --list gone: %v; stdout %q", r.err, r.stdout)
	}
	if r := runSyncJob(t, db, time.Second, "nosuch"); r.err == nil || !strings.Contains(r.err.Error(), `no list "nosuch"`) {
		t.Errorf("sync --list nosuch: %v", r.err)
	}
}

func TestSyncUsage(t *testing.T) {
	db := testkit.NewDB(t, schema.PerType, "wal")
	for _, args := range [][]string{
		{},
		{db, db},
		{db, "--timeout"},
		{db, "--timeout", "soon"},
		{db, "--timeout", "-1s"},
		{db, "--list"},
		{db, "--since", "1h"},
	} {
		if err := runSync(args); !isUsage(err) {
			t.Errorf("sync %q: %v, want a usage error", args, err)
		}
	}
	out, err := captured(t, func() error { return runSync([]string{db}) })
	if err != nil || !strings.Contains(out, "has no list with a URL") {
		t.Errorf("sync of a file without lists: %v %q", err, out)
	}
}

// TestSyncProcess runs sync as a process: the exit status a scheduler sees
// (0 when every list synced, 1 when one failed), and a SIGINT during a
// download that stalls, which stops it at once with nothing written and no
// temporary file left.
func TestSyncProcess(t *testing.T) {
	bin := buildAdmin(t)
	srv := newListServer(t)
	srv.set("/ok.txt", resource{body: hosts("ok.example"), etag: `"1"`})
	srv.set("/slow.txt", resource{body: hosts("slow-1.example", "slow-2.example"), stall: true})
	db := testkit.NewDB(t, schema.PerType, "wal")
	addURLList(t, db, "ok", srv.URL+"/ok.txt", "hosts")
	tmp := t.TempDir()
	sync := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"sync", db}, args...)...)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		return cmd
	}

	if r := runAdmin(t, sync()); r.code != 0 || r.stdout != "ok: updated: +1 -0, 1 rows\n" {
		t.Fatalf("sync: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := runAdmin(t, sync()); r.code != 0 || r.stdout != "ok: unchanged (304 Not Modified)\n" {
		t.Errorf("second sync: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	addURLList(t, db, "missing", srv.URL+"/missing.txt", "hosts")
	r := runAdmin(t, sync())
	if r.code != 1 || !strings.Contains(r.stderr, "list missing ("+srv.URL+"/missing.txt): HTTP 404 Not Found") || !strings.Contains(r.stdout, "ok: unchanged") {
		t.Errorf("sync with a list that fails: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	addURLList(t, db, "slow", srv.URL+"/slow.txt", "hosts")
	w := watch(t, db)
	before := w.version(t)
	s := startAdmin(t, sync("--list", "slow"))
	select {
	case <-srv.stalled:
	case <-time.After(30 * time.Second):
		t.Fatalf("the download never started; stderr: %s", s.stderr.String())
	}
	time.Sleep(200 * time.Millisecond)
	sent := time.Now()
	if code := s.stop(t, syscall.SIGINT); code != 130 {
		t.Errorf("exit code %d, want 130; stderr: %s", code, s.stderr.String())
	}
	if d := time.Since(sent); d > time.Second {
		t.Logf("stopped %v after SIGINT, more than the second it should take (a loaded machine?)", d)
	}
	if !strings.Contains(s.stderr.String(), "interrupted by SIGINT: list slow was rolled back") {
		t.Errorf("stderr: %q", s.stderr.String())
	}
	if w.version(t) != before {
		t.Error("the database was written")
	}
	if m := membership(t, db, schema.PerType, schema.BlockExact, "slow-1.example"); m != 0 {
		t.Errorf("slow-1.example stored, mask %b", m)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
}

// TestListRemoveForgetsSyncState: a list added after another was removed
// gets its id; it must not ask its source with the old list's validators.
func TestListRemoveForgetsSyncState(t *testing.T) {
	srv := newListServer(t)
	srv.set("/a.txt", resource{body: hosts("a.example"), etag: `"same"`})
	db := testkit.NewDB(t, schema.PerType, "wal")
	addURLList(t, db, "first", srv.URL+"/a.txt", "hosts")
	if r := runSyncJob(t, db, 5*time.Second); r.err != nil {
		t.Fatalf("sync: %v %s", r.err, r.stderr)
	}
	_, err := captured(t, func() error { return runList([]string{"remove", db, "first"}) })
	must(t, "list remove", err)
	addURLList(t, db, "second", srv.URL+"/a.txt", "hosts")
	r := runSyncJob(t, db, 5*time.Second)
	if r.err != nil || r.stdout != "second: updated: +1 -0, 1 rows\n" {
		t.Errorf("sync of the new list: %v; stdout %q", r.err, r.stdout)
	}
	if req := srv.last("/a.txt"); req.ifNoneMatch != "" {
		t.Errorf("the new list sent the removed list's validator %q", req.ifNoneMatch)
	}
}
