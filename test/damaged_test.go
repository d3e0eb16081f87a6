package test

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// damage is a way a database file gets broken in place while it is served.
type damage struct {
	name string
	do   func(t *testing.T, path string)
}

var damages = []damage{
	{"truncated to half", func(t *testing.T, path string) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, fi.Size()/2); err != nil {
			t.Fatal(err)
		}
	}},
	{"b-tree pages overwritten", func(t *testing.T, path string) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		header := make([]byte, 100)
		if _, err := io.ReadFull(f, header); err != nil {
			t.Fatal(err)
		}
		pageSize := int64(binary.BigEndian.Uint16(header[16:]))
		if pageSize == 1 {
			pageSize = 65536
		}
		garbage := make([]byte, pageSize)
		for i := range garbage {
			garbage[i] = byte(i*131 + 7)
		}
		// The pages of the file's second quarter: leaves and inner pages
		// of block_exact's table and index that no lookup has read yet,
		// so that none is in a connection's page cache.
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		pages := fi.Size() / pageSize
		for p := pages / 4; p < pages/2; p++ {
			if _, err := f.WriteAt(garbage, p*pageSize); err != nil {
				t.Fatal(err)
			}
		}
	}},
}

// TestDamagedDatabaseWhileServing breaks the served file in place (the way a
// copy over it that stopped half-way, or a bad disk, would) and then renames
// a good file over it. While the file is damaged the server must log a clear
// error and answer as on_error says: SERVFAIL with fail_closed, the
// upstream's answer with fail_open; it must never crash; and once the good
// file is in place it must enforce the rules again. Neither the verdict cache
// nor the Bloom filter may hide the damage, so both are off.
func TestDamagedDatabaseWhileServing(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	filler := make([]string, 20000)
	for i := range filler {
		filler[i] = fmt.Sprintf("filler-%d.example.net", i)
	}
	for _, mode := range []string{"fail_closed", "fail_open"} {
		for _, d := range damages {
			t.Run(mode+"/"+d.name, func(t *testing.T) {
				db := testkit.NewDB(t, schema.PerType, "wal", testkit.Rows(
					testkit.BlockExact("ads.example.com"), testkit.BlockExact(filler...))...)
				good := filepath.Join(filepath.Dir(db), "good.db")
				copyFile(t, db, good, 0o644)
				srv := startServer(t, corefile(db, up.Addr, "on_error "+mode, "cache_size 0", "bloom_max_memory 0", "refresh 100ms"))
				if got := answerA(srv.Addr, "ads.example.com."); got != "0.0.0.0" {
					t.Fatalf("before the damage: ads.example.com got %s, want 0.0.0.0", got)
				}

				d.do(t, db)
				// Pages read before the damage may still be in a
				// connection's cache, so a name may keep its right
				// answer; every other answer must be on_error's, and
				// some must be.
				onError := "SERVFAIL"
				if mode == "fail_open" {
					onError = upstreamA
				}
				noticed := false
				if !testkit.Poll(15*time.Second, func() bool {
					for i := range 200 {
						name := fmt.Sprintf("filler-%d.example.net.", i*97%len(filler))
						switch got := answerA(srv.Addr, name); got {
						case "0.0.0.0":
						case onError:
							noticed = true
						default:
							t.Fatalf("damaged file: %s got %s, want 0.0.0.0 or %s (server alive: %v)", name, got, onError, alive(srv.PID()))
						}
					}
					return noticed
				}) {
					t.Fatalf("damaged file: every name still got its right answer: the damage was never read")
				}
				if !testkit.Poll(15*time.Second, func() bool { return damageLogged(srv.Output()) }) {
					t.Fatalf("no error naming the damage was logged:\n%s", srv.Output())
				}

				var last string
				next := db + ".new"
				copyFile(t, good, next, 0o644)
				os.Remove(db + "-wal")
				os.Remove(db + "-shm")
				if err := os.Rename(next, db); err != nil {
					t.Fatal(err)
				}
				if !testkit.Poll(15*time.Second, func() bool {
					last = answerA(srv.Addr, "ads.example.com.") + " " + answerA(srv.Addr, "www.example.org.")
					for i := range 200 {
						last += " " + answerA(srv.Addr, fmt.Sprintf("filler-%d.example.net.", i*97%len(filler)))
					}
					return last == "0.0.0.0 "+upstreamA+strings.Repeat(" 0.0.0.0", 200) || !alive(srv.PID())
				}) || !alive(srv.PID()) {
					t.Fatalf("good file renamed over the damaged one: answers %q, want 0.0.0.0 for the blocked names, %s for www.example.org (server alive: %v)", last, upstreamA, alive(srv.PID()))
				}
			})
		}
	}
}

// answerA is the A address of the answer, the rcode when it is not
// NOERROR, or "no answer".
func answerA(addr, name string) string {
	c := &dns.Client{Timeout: time.Second}
	r, _, err := c.Exchange(new(dns.Msg).SetQuestion(name, dns.TypeA), addr)
	switch {
	case err != nil:
		return "no answer"
	case r.Rcode != dns.RcodeSuccess:
		return dns.RcodeToString[r.Rcode]
	case len(r.Answer) != 1:
		return fmt.Sprintf("%d records", len(r.Answer))
	}
	if a, ok := r.Answer[0].(*dns.A); ok {
		return a.A.String()
	}
	return r.Answer[0].String()
}

// alive reports whether the process runs (not exited, not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

func damageLogged(out string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "sqlitefilter") && (strings.Contains(l, "malformed") || strings.Contains(l, "corrupt") ||
			strings.Contains(l, "disk I/O error") || strings.Contains(l, "not a database")) {
			return true
		}
	}
	return false
}
