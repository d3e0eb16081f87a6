package store_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// The follower below applies a writer's changes to a replica the way
// `litestream restore -f` does (v0.5): in another process, because the file
// locks it takes exclude only other processes; under SQLite's exclusive lock
// (PENDING and SHARED bytes, F_SETLKW); every changed page written in place;
// page 1 only when it changed, then marked rollback-journal and given a
// random change counter; the file truncated to the writer's size; and the
// -txid file replaced by a rename afterwards.
const followerEnv = "SQLITEFILTER_TEST_FOLLOWER"

func TestMain(m *testing.M) {
	if args := os.Getenv(followerEnv); args != "" {
		writer, replica, _ := strings.Cut(args, "\n")
		if err := follow(writer, replica, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const (
	pageSize     = 4096
	pendingByte  = 0x40000000
	sharedFirst  = pendingByte + 2
	sharedLength = 510
)

// follow applies the writer's file to the replica on every line read, and
// answers each with "page1" or "same1": whether page 1 was written.
func follow(writer, replica string, in io.Reader, out io.Writer) error {
	f, err := os.OpenFile(replica, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(in)
	for txid := 2; sc.Scan(); txid++ {
		wrote1, err := applyOnce(f, writer)
		if err != nil {
			return err
		}
		if err := writeTXID(replica, txid); err != nil {
			return err
		}
		word := "same1"
		if wrote1 {
			word = "page1"
		}
		fmt.Fprintln(out, word)
	}
	return sc.Err()
}

func lock(f *os.File, typ int16, start, length int64) error {
	return syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &syscall.Flock_t{Type: typ, Whence: 0, Start: start, Len: length})
}

func applyOnce(f *os.File, writer string) (bool, error) {
	want, err := os.ReadFile(writer)
	if err != nil {
		return false, err
	}
	if err := lock(f, syscall.F_WRLCK, pendingByte, 1); err != nil {
		return false, err
	}
	if err := lock(f, syscall.F_WRLCK, sharedFirst, sharedLength); err != nil {
		return false, err
	}
	defer func() {
		lock(f, syscall.F_UNLCK, sharedFirst, sharedLength)
		lock(f, syscall.F_UNLCK, pendingByte, 1)
	}()
	have, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<40))
	if err != nil {
		return false, err
	}
	wrote1 := false
	for off := 0; off < len(want); off += pageSize {
		page := bytes.Clone(want[off : off+pageSize])
		if off == 0 {
			if len(have) >= pageSize && samePageOne(page, have[:pageSize]) {
				continue
			}
			page[18], page[19] = 1, 1
			rand.Read(page[24:28])
			wrote1 = true
		} else if off+pageSize <= len(have) && bytes.Equal(page, have[off:off+pageSize]) {
			continue
		}
		if _, err := f.WriteAt(page, int64(off)); err != nil {
			return false, err
		}
	}
	if err := f.Truncate(int64(len(want))); err != nil {
		return false, err
	}
	return wrote1, f.Sync()
}

// samePageOne compares the writer's page 1 with the replica's, leaving out
// what the follower itself sets: the journal mode and the change counter.
func samePageOne(w, r []byte) bool {
	return bytes.Equal(w[:18], r[:18]) && bytes.Equal(w[20:24], r[20:24]) && bytes.Equal(w[28:], r[28:])
}

func writeTXID(replica string, txid int) error {
	tmp := replica + store.TXIDSuffix + ".tmp"
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%016x\n", txid), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, replica+store.TXIDSuffix)
}

// replicaPair is a writer database in WAL mode, as Litestream's source is,
// its replica in rollback-journal mode, and a follower process between them.
type replicaPair struct {
	writer, replica string
	in              io.WriteCloser
	out             *bufio.Scanner
	mu              sync.Mutex
}

func newReplicaPair(t *testing.T, rows ...testkit.Row) *replicaPair {
	t.Helper()
	dir := t.TempDir()
	p := &replicaPair{writer: filepath.Join(dir, "writer.db"), replica: filepath.Join(dir, "replica.db")}
	testkit.CreateDB(t, p.writer, schema.PerType, "wal", rows...)
	p.checkpoint(t)
	b, err := os.ReadFile(p.writer)
	if err != nil {
		t.Fatal(err)
	}
	b[18], b[19] = 1, 1
	if err := os.WriteFile(p.replica, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeTXID(p.replica, 1); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), followerEnv+"="+p.writer+"\n"+p.replica)
	cmd.Stderr = os.Stderr
	if p.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.out = bufio.NewScanner(stdout)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.in.Close()
		cmd.Wait()
	})
	return p
}

// checkpoint moves the writer's committed pages from its WAL into its file,
// where the follower copies them from.
func (p *replicaPair) checkpoint(t testing.TB) {
	t.Helper()
	testkit.ExecSQL(t, p.writer, "PRAGMA wal_checkpoint(TRUNCATE)")
}

// commit runs statements on the writer and has the follower apply them; it
// reports whether page 1 was among the pages applied.
func (p *replicaPair) commit(t testing.TB, statements ...string) bool {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	testkit.ExecSQL(t, p.writer, statements...)
	p.checkpoint(t)
	fmt.Fprintln(p.in, "apply")
	if !p.out.Scan() {
		t.Fatalf("follower stopped: %v", p.out.Err())
	}
	return p.out.Text() == "page1"
}

func openReplica(t *testing.T, path string, pool int) *store.Store {
	t.Helper()
	s, err := store.Open(path, store.Options{Pool: pool, BusyTimeoutMS: 5000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func lookup(s *store.Store, table schema.Table, key string) (bool, error) {
	var ok bool
	err := store.View(store.Shards{s}, func(src policy.Lookup) error {
		var err error
		ok, err = policy.Has(src, table, key)
		return err
	})
	return ok, err
}

// An insert that fits in a leaf page leaves page 1 as it was, so SQLite's
// own change detection (the change counter, data_version) misses it; the
// replica's store takes it up at the next Refresh all the same, and so
// does a delete.
func TestReplicaChangeWithoutPageOneIsSeenAfterRefresh(t *testing.T) {
	p := newReplicaPair(t, testkit.BlockExact("pad.example.com")...)
	s := openReplica(t, p.replica, 2)
	if _, ok := s.Replica(); !ok {
		t.Fatal("a file with a -txid file next to it is not taken for a replica")
	}
	if p.commit(t, `INSERT INTO block_exact VALUES ('ads.example.com')`) {
		t.Fatal("the insert rewrote page 1: the test no longer covers a change SQLite cannot see")
	}
	gen := s.Generation()
	if changed, err := s.Refresh(); err != nil || !changed {
		t.Fatalf("Refresh() = %v, %v after the follower applied an insert; want a change", changed, err)
	}
	if s.Generation() == gen {
		t.Error("generation did not move")
	}
	for range 3 { // every pooled connection
		if ok, err := lookup(s, schema.BlockExact, "ads.example.com"); err != nil || !ok {
			t.Fatalf("replicated insert: Has = %v, %v; want true", ok, err)
		}
	}
	if st, _ := s.Replica(); st.TXID != 2 {
		t.Errorf("Replica().TXID = %d, want 2", st.TXID)
	}
	if changed, err := s.Refresh(); err != nil || changed {
		t.Fatalf("Refresh() with nothing applied = %v, %v; want no change", changed, err)
	}
	p.commit(t, `DELETE FROM block_exact WHERE Domain = 'ads.example.com'`)
	if changed, err := s.Refresh(); err != nil || !changed {
		t.Fatalf("Refresh() = %v, %v after a replicated delete; want a change", changed, err)
	}
	for range 3 {
		if ok, err := lookup(s, schema.BlockExact, "ads.example.com"); err != nil || ok {
			t.Fatalf("replicated delete: Has = %v, %v; want false", ok, err)
		}
	}
}

// Lookups running while the follower applies transactions that split,
// merge and free pages never fail and never get a wrong answer for a row
// that no transaction touches: each reads one applied state, never a mix.
func TestReplicaLookupsUnderFollowerNeverTornNorFailed(t *testing.T) {
	var stable []string
	for i := range 200 {
		stable = append(stable, fmt.Sprintf("keep%03d.example.com", i))
	}
	p := newReplicaPair(t, testkit.BlockExact(stable...)...)
	s := openReplica(t, p.replica, 4)
	var lookups, failures atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key, want := stable[i%len(stable)], true
				if i%3 == 0 {
					key, want = "absent"+key, false
				}
				ok, err := lookup(s, schema.BlockExact, key)
				lookups.Add(1)
				if err != nil || ok != want {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%s: Has = %v, %v; want %v", key, ok, err, want))
				}
			}
		}()
	}
	refreshed := make(chan struct{})
	go func() {
		defer close(refreshed)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				s.Refresh()
			}
		}
	}()
	// Churn rows sort among the stable ones, so their pages split and merge.
	deadline := time.Now().Add(5 * time.Second)
	for round := 0; round < 40 && time.Now().Before(deadline); round++ {
		var sb strings.Builder
		sb.WriteString("INSERT INTO block_exact VALUES ")
		for i := range 400 {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "('keep%03d.churn%d-%04d.example.com')", i%200, round, i)
		}
		p.commit(t, sb.String())
		p.commit(t, fmt.Sprintf("DELETE FROM block_exact WHERE Domain LIKE '%%.churn%d-%%'", round))
	}
	close(stop)
	wg.Wait()
	<-refreshed
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d lookups failed or were wrong while the follower applied changes; first: %v", n, lookups.Load(), firstFailure.Load())
	}
	if lookups.Load() < 100 {
		t.Fatalf("only %d lookups ran", lookups.Load())
	}
	t.Logf("%d lookups, none failed or wrong", lookups.Load())
}

// A replica in WAL mode is not opened: its connections would hold the lock
// the follower waits for, for as long as the server runs.
func TestReplicaInWALModeIsRefusedWithTheFix(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "wal")
	if err := writeTXID(path, 1); err != nil {
		t.Fatal(err)
	}
	_, err := store.Open(path, store.Options{Pool: 1, BusyTimeoutMS: 100})
	if err == nil || !strings.Contains(err.Error(), "PRAGMA journal_mode=DELETE") {
		t.Fatalf("Open(WAL replica) = %v; want an error that says how to switch it to the rollback journal", err)
	}
}
