package kubernetes_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestGuidePublishingStepsMakeAFileFetchInstalls runs the publishing steps of
// docs/operator-guide.md ("Publishing a database for Kubernetes") with the
// admin command and the sqlite3 shell, serves the result, installs it with
// fetch.sh as the init container does, and asks `sqlitefilter explain` about
// the installed file.
func TestGuidePublishingStepsMakeAFileFetchInstalls(t *testing.T) {
	script := fetchScript(t)
	sqlite3, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Skipf("%s: sqlite3 is not installed (apt-get install sqlite3)", t.Name())
	}
	if testing.Short() {
		t.Skip("builds the admin command")
	}
	dir := t.TempDir()
	admin := filepath.Join(dir, "sqlitefilter")
	build := exec.Command("go", "build", "-o", admin, "./cmd/sqlitefilter")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the admin command: %v\n%s", err, out)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if err := os.WriteFile(filepath.Join(dir, "list.txt"), []byte("tracker.example.com\nads.example.net\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(admin, "init", "dns.db.new")
	run(admin, "import", "dns.db.new", "--table", "block_wildcard", "list.txt")
	run(admin, "check", "dns.db.new")
	run(admin, "optimize", "dns.db.new")
	run(sqlite3, "dns.db.new", "PRAGMA journal_mode=DELETE;")
	if _, err := os.Stat(filepath.Join(dir, "dns.db.new-wal")); err == nil {
		t.Fatal("dns.db.new-wal left behind")
	}
	published, err := os.ReadFile(filepath.Join(dir, "dns.db.new"))
	if err != nil {
		t.Fatal(err)
	}

	pub := newPublisher(t)
	pub.publish(published, "")
	installed := filepath.Join(t.TempDir(), "dns.db")
	if out, err := (shell{name: "sh"}).fetchCmd(script, pub.srv.URL, installed, "once").CombinedOutput(); err != nil || !strings.Contains(string(out), "installed") {
		t.Fatalf("fetch.sh once: %v\n%s", err, out)
	}
	out := run(admin, "explain", installed, "ads.tracker.example.com")
	for _, want := range []string{`verdict:\s+block\n`, `rule:\s+block_wildcard tracker\.example\.com\n`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("explain on the installed file does not match %q:\n%s", want, out)
		}
	}
}
