package test

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// TestContainerImageServesFromItsOwnBinary builds the image from
// build/container with podman, exports it, unpacks its layers and runs the
// binary and Corefile found there. Containers cannot run on the CI machines
// (no cgroups), so the image's content is run directly instead.
func TestContainerImageServesFromItsOwnBinary(t *testing.T) {
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("TestContainerImageServesFromItsOwnBinary: podman is not installed (apt-get install podman), the image is not built")
	}
	if testing.Short() {
		t.Skip("builds a container image")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The context holds what `make image` puts there: the binary the other
	// tests run, built once, and the image's Corefile.
	buildCtx := t.TempDir()
	copyFile(t, binaryPath, filepath.Join(buildCtx, "coredns"), 0o755)
	copyFile(t, "../build/container/Corefile", filepath.Join(buildCtx, "Corefile"), 0o644)

	// A private vfs store: no overlay mounts, nothing left behind. podman
	// wants a short runroot path, shorter than t.TempDir's.
	store, err := os.MkdirTemp("", "podman")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(store) })
	pm := func(args ...string) {
		t.Helper()
		base := []string{"--storage-driver", "vfs", "--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"),
			"--cgroup-manager", "cgroupfs", "--events-backend", "none"}
		cmd := exec.CommandContext(ctx, podman, append(base, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	const tag = "localhost/sqlitefilter/coredns:test"
	archive := filepath.Join(t.TempDir(), "image.tar")
	pm("build", "--quiet", "-f", "../build/container/Containerfile", "-t", tag, buildCtx)
	pm("save", "--format", "docker-archive", "-o", archive, tag)
	pm("rmi", "--force", tag)

	rootfs := t.TempDir()
	cfg := unpackImage(t, archive, rootfs)
	if cfg.User != "65532:65532" {
		t.Errorf("image user %q, want the non-root 65532:65532", cfg.User)
	}
	for _, v := range []string{"/etc/coredns", "/var/lib/sqlitefilter"} {
		if _, ok := cfg.Volumes[v]; !ok {
			t.Errorf("image volumes %v lack %s", cfg.Volumes, v)
		}
	}
	if want := []string{"/coredns", "-conf", "/etc/coredns/Corefile"}; !slices.Equal(append(cfg.Entrypoint, cfg.Cmd...), want) {
		t.Errorf("image runs %v %v, want %v", cfg.Entrypoint, cfg.Cmd, want)
	}
	bin := filepath.Join(rootfs, "coredns")
	checkStatic(t, bin)

	// The image's own Corefile, moved to loopback ports and the test's files.
	conf, err := os.ReadFile(filepath.Join(rootfs, "etc/coredns/Corefile"))
	if err != nil {
		t.Fatal(err)
	}
	up := testkit.StartUpstream(t, upstreamRecipe)
	db := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockWildcard("doubleclick.net")...)
	local, health, ready := onLoopback(t, string(conf), db, up)
	srv, err := tryStartBinary(t, bin, local)
	if err != nil {
		t.Fatal(err)
	}
	checkBlockedAndForwarded(t, srv.Addr, up)
	checkHTTP200(t, health)
	checkHTTP200(t, ready)
}

// onLoopback adapts a shipped Corefile (port 1053, health :8080, ready :8181,
// prometheus :9153, /var/lib/sqlitefilter/dns.db, forward to
// /etc/resolv.conf) to free loopback ports, the database db and the upstream
// up, then applies the extra replacement pairs. It returns the Corefile and
// its /health and /ready URLs.
func onLoopback(t *testing.T, conf, db string, up *testkit.Upstream, extra ...string) (local, health, ready string) {
	t.Helper()
	healthPort, readyPort := testkit.FreePort(t), testkit.FreePort(t)
	local = adapt(t, conf, append([]string{
		".:1053 {", ".:{PORT} {\n    bind 127.0.0.1",
		"health :8080", fmt.Sprintf("health 127.0.0.1:%d", healthPort),
		"ready :8181", fmt.Sprintf("ready 127.0.0.1:%d", readyPort),
		"prometheus :9153", fmt.Sprintf("prometheus 127.0.0.1:%d", testkit.FreePort(t)),
		"/var/lib/sqlitefilter/dns.db", db,
		"forward . /etc/resolv.conf", "forward . " + up.Addr,
	}, extra...)...)
	return local, fmt.Sprintf("http://127.0.0.1:%d/health", healthPort), fmt.Sprintf("http://127.0.0.1:%d/ready", readyPort)
}

// adapt applies old, new replacement pairs to a Corefile, failing when an old
// string is not there: the test must notice when the shipped file changes.
func adapt(t *testing.T, conf string, pairs ...string) string {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(conf, pairs[i]) {
			t.Fatalf("the Corefile has no %q:\n%s", pairs[i], conf)
		}
		conf = strings.ReplaceAll(conf, pairs[i], pairs[i+1])
	}
	return conf
}

// checkHTTP200 polls url until it answers 200, for at most 10 s.
func checkHTTP200(t *testing.T, url string) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	var last string
	ok := func() bool {
		resp, err := c.Get(url)
		if err != nil {
			last = err.Error()
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = fmt.Sprintf("%s: %s", resp.Status, body)
		return resp.StatusCode == http.StatusOK
	}
	if !testkit.Poll(10*time.Second, ok) {
		t.Errorf("GET %s: %s, want 200", url, last)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// imageConfig is the part of an image's configuration the test checks.
type imageConfig struct {
	User       string
	Entrypoint []string
	Cmd        []string
	Volumes    map[string]struct{}
}

// unpackImage extracts a docker-archive (podman save) into rootfs, applying
// its layers in order, and returns the image configuration. A file with a
// capability (security.capability xattr) fails the test: the image must not
// grant any.
func unpackImage(t *testing.T, archive, rootfs string) imageConfig {
	t.Helper()
	files := map[string][]byte{}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if files[h.Name], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	var manifest []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v, %d images", err, len(manifest))
	}
	var cfg struct{ Config imageConfig }
	if err := json.Unmarshal(files[manifest[0].Config], &cfg); err != nil {
		t.Fatalf("image config: %v", err)
	}
	for _, layer := range manifest[0].Layers {
		data, ok := files[layer]
		if !ok {
			t.Fatalf("layer %s is not in the archive", layer)
		}
		extractLayer(t, strings.NewReader(string(data)), rootfs)
	}
	return cfg.Config
}

func extractLayer(t *testing.T, r io.Reader, rootfs string) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		name := path.Clean("/" + h.Name) // no escape from rootfs
		for k := range h.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.security.capability") {
				t.Errorf("%s carries file capabilities in the image", name)
			}
		}
		dst := filepath.Join(rootfs, filepath.FromSlash(name))
		if base := path.Base(name); strings.HasPrefix(base, ".wh.") {
			os.RemoveAll(filepath.Join(filepath.Dir(dst), strings.TrimPrefix(base, ".wh.")))
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(dst, 0o755)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
				var b []byte
				if b, err = io.ReadAll(tr); err == nil {
					err = os.WriteFile(dst, b, h.FileInfo().Mode().Perm()|0o200)
				}
			}
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, dst)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
