package test

import (
	"debug/elf"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// The static build, as the Makefile's `static` target runs it: cgo for
// mattn/go-sqlite3, Go's own resolver and user lookup so glibc's NSS (which
// cannot be linked statically) is never called, and no SQLite extension
// loading (it needs dlopen).
const (
	staticTags    = "netgo,osusergo,sqlite_omit_load_extension"
	staticLDFlags = "-s -w -extldflags -static"
)

// staticBuild returns the command that builds the static CoreDNS into out.
func staticBuild(out string) *exec.Cmd {
	cmd := exec.Command("go", "build", "-trimpath", "-tags", staticTags, "-ldflags", staticLDFlags, "-o", out, "./build/coredns")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	return cmd
}

func TestMakefileBuildsTheStaticBinaryTheTestsRun(t *testing.T) {
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"STATIC_TAGS := " + staticTags + "\n",
		"STATIC_LDFLAGS := " + staticLDFlags + "\n",
		"CGO_ENABLED=1 $(GO) build -trimpath -tags $(STATIC_TAGS) -ldflags '$(STATIC_LDFLAGS)' -o bin/coredns ./build/coredns\n",
	} {
		if !strings.Contains(string(mk), want) {
			t.Errorf("Makefile lacks %q: the tests would not run what `make static` builds", want)
		}
	}
}

func TestStaticBinaryHasNoInterpreterNorSharedLibraries(t *testing.T) {
	checkStatic(t, binaryPath)
}

// checkStatic fails unless path is an ELF executable that needs no dynamic
// loader and no shared library, so it runs on an empty image.
func checkStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a %s program header: it is dynamically linked", path, p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v (%v)", path, libs, err)
	}
	if _, err := exec.LookPath("ldd"); err != nil {
		return // the ELF checks above are what matter; ldd only says the same
	}
	out, _ := exec.Command("ldd", path).CombinedOutput()
	if !strings.Contains(string(out), "not a dynamic executable") {
		t.Errorf("ldd %s:\n%s\nwant \"not a dynamic executable\"", path, out)
	}
}

func TestStaticBinaryBlocksAndForwards(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	db := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockWildcard("doubleclick.net")...)
	srv := startServer(t, corefile(db, up.Addr))
	checkBlockedAndForwarded(t, srv.Addr, up)
}

var sinkholeA = regexp.MustCompile(`^ad\.doubleclick\.net\.\s+60\s+IN\s+A\s+0\.0\.0\.0$`)

// checkBlockedAndForwarded checks that ad.doubleclick.net, below a
// block_wildcard row for doubleclick.net, is answered as blocked without
// asking the upstream, and that www.example.org is forwarded to it.
func checkBlockedAndForwarded(t *testing.T, addr string, up *testkit.Upstream) {
	t.Helper()
	r := query(t, addr, "udp", "ad.doubleclick.net.", dns.TypeA, true)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || !sinkholeA.MatchString(r.Answer[0].String()) {
		t.Errorf("blocked name: rcode %s, answer %v, want 0.0.0.0", dns.RcodeToString[r.Rcode], r.Answer)
	}
	checkEDE(t, r, true, dns.ExtendedErrorCodeBlocked)
	if up.Asked("ad.doubleclick.net.") {
		t.Error("the upstream was asked about the blocked name")
	}
	r = query(t, addr, "udp", "www.example.org.", dns.TypeA, false)
	if len(r.Answer) != 1 || !strings.HasSuffix(r.Answer[0].String(), "\t"+upstreamA) {
		t.Errorf("forwarded name: answer %v, want the upstream's %s", r.Answer, upstreamA)
	}
	if !up.Asked("www.example.org.") {
		t.Error("the upstream was not asked about the forwarded name")
	}
}
