package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stopWithin is how long after SIGINT or SIGTERM a command may still run
// before the test calls it stuck. The commands stop within a second (the
// test logs how long each took); the bound is wider so that a machine busy
// with other work does not fail a command that did stop.
const stopWithin = 10 * time.Second

// signalled is a running admin process that the test stops with a signal.
type signalled struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
}

func startAdmin(t *testing.T, cmd *exec.Cmd) *signalled {
	t.Helper()
	s := &signalled{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &s.stdout, &s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	return s
}

// exited reports whether the process has ended.
func (s *signalled) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// stop sends sig and returns the exit code, failing the test if the process
// is still running stopWithin later (it is then killed).
func (s *signalled) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	select {
	case <-s.done:
		t.Logf("%v stopped %v after %v", s.cmd.Args[1], time.Since(sent).Round(time.Millisecond), sig)
	case <-time.After(stopWithin):
		s.cmd.Process.Kill()
		<-s.done
		t.Fatalf("%v still running %v after %v; stderr: %s", s.cmd.Args[1:], stopWithin, sig, s.stderr.String())
	}
	return s.cmd.ProcessState.ExitCode()
}

const seedRows = "INSERT INTO block_exact VALUES ('previous.example'); INSERT INTO fqdn_dns_allow VALUES ('allowed.example');"

func names(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "host-%d.signal.example\n", i)
	}
	return b.String()
}

func TestSignalStopsImportAndRollsBack(t *testing.T) {
	bin := buildAdmin(t)
	dir := t.TempDir()

	t.Run("endless line on SIGINT", func(t *testing.T) {
		db := filepath.Join(dir, "zero.db")
		seedDB(t, db, seedRows)
		s := startAdmin(t, exec.Command(bin, "import", db, "--table", "block_exact", "/dev/zero"))
		time.Sleep(300 * time.Millisecond) // well into the line
		if code := s.stop(t, syscall.SIGINT); code != 130 {
			t.Errorf("exit code %d, want 130; stderr: %s", code, s.stderr.String())
		}
		if !strings.Contains(s.stderr.String(), "interrupted by SIGINT: rolled back, nothing imported") {
			t.Errorf("stderr: %q", s.stderr.String())
		}
		if n := tableRows(t, db, "block_exact"); n != 1 {
			t.Errorf("block_exact has %d rows, want the 1 from before", n)
		}
	})

	t.Run("blocked read on SIGTERM", func(t *testing.T) {
		db := filepath.Join(dir, "pipe.db")
		seedDB(t, db, seedRows)
		cmd := exec.Command(bin, "import", db, "--table", "block_exact", "-")
		w := stdinPipe(t, cmd)
		s := startAdmin(t, cmd)
		io.WriteString(w, names(0, 5)) // less than a line buffer: it waits for more
		time.Sleep(300 * time.Millisecond)
		if code := s.stop(t, syscall.SIGTERM); code != 143 {
			t.Errorf("exit code %d, want 143; stderr: %s", code, s.stderr.String())
		}
		if n := tableRows(t, db, "block_exact"); n != 1 {
			t.Errorf("block_exact has %d rows, want the 1 from before", n)
		}
	})

	t.Run("committed batches kept", func(t *testing.T) {
		db := filepath.Join(dir, "batches.db")
		seedDB(t, db, seedRows)
		cmd := exec.Command(bin, "import", db, "--table", "block_exact", "--batch", "10", "-")
		w := stdinPipe(t, cmd)
		s := startAdmin(t, cmd)
		io.WriteString(w, names(0, 25)) // two batches commit, five rows wait in the third
		eventually(t, "two committed batches", func() bool { return tableRows(t, db, "block_exact") == 21 })
		time.Sleep(300 * time.Millisecond)
		if code := s.stop(t, syscall.SIGINT); code != 130 {
			t.Errorf("exit code %d, want 130; stderr: %s", code, s.stderr.String())
		}
		if n := tableRows(t, db, "block_exact"); n != 21 {
			t.Errorf("block_exact has %d rows, want 21 (the batch in progress rolled back)", n)
		}
		if !strings.Contains(s.stderr.String(), "the 20 rows added by earlier batches are kept") {
			t.Errorf("stderr: %q", s.stderr.String())
		}
		if r := runAdmin(t, exec.Command(bin, "check", db)); r.code != 0 {
			t.Errorf("check: %d %s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("replace leaves the old file", func(t *testing.T) {
		db := filepath.Join(dir, "replace.db")
		seedDB(t, db, seedRows)
		before := contents(t, db)
		cmd := exec.Command(bin, "import", db, "--replace", "--table", "block_exact", "--batch", "10", "-")
		w := stdinPipe(t, cmd)
		s := startAdmin(t, cmd)
		io.WriteString(w, names(0, 25))
		eventually(t, "the replacement file", func() bool { return len(tempFiles(db)) > 0 })
		time.Sleep(300 * time.Millisecond)
		if code := s.stop(t, syscall.SIGTERM); code != 143 {
			t.Errorf("exit code %d, want 143; stderr: %s", code, s.stderr.String())
		}
		if !bytes.Equal(contents(t, db), before) {
			t.Error("the old database changed")
		}
		if left := tempFiles(db); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
		if !strings.Contains(s.stderr.String(), "nothing imported: "+db+" is unchanged") {
			t.Errorf("stderr: %q", s.stderr.String())
		}
	})
}

// stdinPipe gives cmd a standard input the test writes to and keeps open.
func stdinPipe(t *testing.T, cmd *exec.Cmd) io.Writer {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = r
	t.Cleanup(func() { r.Close(); w.Close() })
	return w
}

// bigSource is a database of n block_exact rows, big enough that copying or
// splitting it takes longer than the test needs to send a signal.
func bigSource(t *testing.T, path string, n int) {
	t.Helper()
	seedDB(t, path, fmt.Sprintf(`WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM i WHERE x < %d)
		INSERT INTO block_exact SELECT 'host-' || x || '.big.example' FROM i`, n))
}

func TestSignalStopsMigrateAndSplit(t *testing.T) {
	bin := buildAdmin(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	bigSource(t, src, 1_000_000)
	old := filepath.Join(dir, "old.db")
	seedDB(t, old, seedRows)
	before := contents(t, old)
	shard1 := filepath.Join(dir, "shard-1.db")
	tests := []struct {
		name string
		args []string
		dsts []string // files that must be left as they were
		sig  syscall.Signal
	}{
		{"migrate new", []string{"migrate", src, filepath.Join(dir, "new.db")}, []string{filepath.Join(dir, "new.db")}, syscall.SIGINT},
		{"migrate replace", []string{"migrate", "--replace", src, old}, []string{old}, syscall.SIGTERM},
		{"split", []string{"split", src, old, shard1}, []string{old, shard1}, syscall.SIGINT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startAdmin(t, exec.Command(bin, tt.args...))
			eventually(t, "a temporary file", func() bool { return s.exited() || len(tempFiles(tt.dsts[0])) > 0 })
			time.Sleep(100 * time.Millisecond)
			if s.exited() {
				t.Skipf("finished before the signal; nothing tested: %s", s.stderr.String())
			}
			want := 128 + int(tt.sig)
			if code := s.stop(t, tt.sig); code != want {
				t.Errorf("exit code %d, want %d; stderr: %s", code, want, s.stderr.String())
			}
			if !strings.Contains(s.stderr.String(), "interrupted by SIG") {
				t.Errorf("stderr: %q", s.stderr.String())
			}
			for _, d := range tt.dsts {
				if left := tempFiles(d); len(left) > 0 {
					t.Errorf("left behind: %v", left)
				}
				if d == old {
					if !bytes.Equal(contents(t, d), before) {
						t.Errorf("%s changed", d)
					}
				} else if _, err := os.Stat(d); err == nil {
					t.Errorf("%s created", d)
				}
			}
		})
	}
}
