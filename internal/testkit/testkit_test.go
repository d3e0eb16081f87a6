package testkit_test

import (
	"os"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

func TestNewDBHoldsTheRowsInEitherLayoutAndJournalMode(t *testing.T) {
	rows := testkit.Rows(testkit.Allow("a.test"), testkit.BlockExact("b.test", "c.test"), testkit.BlockWildcard("d.test"),
		testkit.BlockRegex(`^e\.`), testkit.DNSBlock("f.test"), testkit.Alias("g.test", "h.test"),
		testkit.RewriteV4("192.0.2.1", "198.51.100.1"), testkit.RewriteV6("2001:db8::1", "2001:db8::2"),
		testkit.BlockIPv4("192.0.2.0/24"), testkit.BlockIPv6("2001:db8::66"))
	for _, l := range []schema.Layout{schema.PerType, schema.Normalized} {
		for _, mode := range []string{"wal", "delete"} {
			path := testkit.NewDB(t, l, mode, rows...)
			db := testkit.OpenRO(t, path)
			var got string
			if err := db.QueryRow("PRAGMA journal_mode").Scan(&got); err != nil || got != mode {
				t.Errorf("%s/%s: journal mode %q, %v", l, mode, got, err)
			}
			for _, tbl := range schema.Tables {
				want := 1
				if tbl == schema.BlockExact {
					want = 2
				}
				var n int
				if err := db.QueryRow("SELECT count(*) FROM " + tbl.Name()).Scan(&n); err != nil || n != want {
					t.Errorf("%s/%s: %s has %d rows (%v), want %d", l, mode, tbl, n, err, want)
				}
			}
			db.Close()
		}
	}
}

func TestInsertRowsAddsToAnExistingDatabase(t *testing.T) {
	path := testkit.NewDB(t, schema.Normalized, "wal", testkit.BlockExact("a.test")...)
	testkit.InsertRows(t, path, testkit.Rows(testkit.BlockExact("b.test"), testkit.Alias("c.test", "d.test"))...)
	db := testkit.OpenRO(t, path)
	defer db.Close()
	var exact, alias int
	if err := db.QueryRow("SELECT (SELECT count(*) FROM block_exact), (SELECT count(*) FROM domain_alias)").Scan(&exact, &alias); err != nil || exact != 2 || alias != 1 {
		t.Errorf("block_exact %d, domain_alias %d rows (%v), want 2 and 1", exact, alias, err)
	}
}

func TestCreateDBRefusesAnUnknownJournalMode(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { recover() }()
		testkit.NewDB(ft, schema.PerType, "sideways")
	}()
	if !ft.failed {
		t.Error("an unknown journal mode was accepted")
	}
}

// fatalRecorder notes a Fatal instead of ending the test.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Fatalf(format string, args ...any) { f.failed = true; panic("fatal") }

func TestRecipeAnswers(t *testing.T) {
	rc := testkit.DefaultRecipe("192.0.2.7")
	rc.ByName = map[string]map[uint16]string{"other.test.": {dns.TypeA: "10.1.2.3"}}
	tests := []struct {
		name  string
		qtype uint16
		rcode int
		want  []string // answer records
		soa   bool
	}{
		{"Www.Test.", dns.TypeA, dns.RcodeSuccess, []string{"Www.Test.\t300\tIN\tA\t192.0.2.7"}, false},
		{"OTHER.test.", dns.TypeA, dns.RcodeSuccess, []string{"OTHER.test.\t300\tIN\tA\t10.1.2.3"}, false},
		{"other.test.", dns.TypeAAAA, dns.RcodeSuccess, []string{"other.test.\t300\tIN\tAAAA\t2001:db8::1"}, false},
		{"other.test.", dns.TypeANY, dns.RcodeSuccess, []string{"other.test.\t300\tIN\tA\t10.1.2.3", "other.test.\t300\tIN\tTXT\t\"upstream\""}, false},
		{"www.test.", dns.TypeMX, dns.RcodeSuccess, []string{"www.test.\t300\tIN\tMX\t10 mail.test."}, false},
		{"www.test.", dns.TypeNS, dns.RcodeSuccess, nil, true},
		{"nxname.test.", dns.TypeA, dns.RcodeNameError, nil, true},
	}
	for _, tc := range tests {
		q := new(dns.Msg).SetQuestion(tc.name, tc.qtype)
		q.SetEdns0(1232, true)
		r := rc.Reply(q)
		var got []string
		for _, rr := range r.Answer {
			got = append(got, rr.String())
		}
		if r.Rcode != tc.rcode || !r.RecursionAvailable || len(got) != len(tc.want) || (len(r.Ns) == 1) != tc.soa {
			t.Errorf("%s %s: %v", tc.name, dns.TypeToString[tc.qtype], r)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s %s: answer %q, want %q", tc.name, dns.TypeToString[tc.qtype], got[i], tc.want[i])
			}
		}
		if opt := r.IsEdns0(); (opt != nil && opt.Do()) != (tc.rcode == dns.RcodeSuccess) {
			t.Errorf("%s %s: EDNS0 %v", tc.name, dns.TypeToString[tc.qtype], opt)
		}
	}
}

func TestUpstreamCountsAndRecordsQueries(t *testing.T) {
	u := testkit.StartUpstream(t, testkit.DefaultRecipe("192.0.2.7"))
	for _, proto := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: proto, Timeout: 3 * time.Second}
		r, _, err := c.Exchange(new(dns.Msg).SetQuestion(proto+".test.", dns.TypeA), u.Addr)
		if err != nil || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.7" {
			t.Fatalf("%s: %v, %v", proto, r, err)
		}
	}
	if u.Queries() != 2 || u.TCPQueries() != 1 {
		t.Errorf("%d queries, %d over TCP; want 2 and 1", u.Queries(), u.TCPQueries())
	}
	if seen := u.Seen(); len(seen) != 2 || seen[0].Name != "udp.test." || !u.Asked("TCP.test") || u.Asked("other.test.") {
		t.Errorf("seen %v", seen)
	}
}

func TestDeadAddrDoesNotAnswer(t *testing.T) {
	c := &dns.Client{Timeout: 300 * time.Millisecond}
	if r, _, err := c.Exchange(new(dns.Msg).SetQuestion("x.test.", dns.TypeA), testkit.DeadAddr(t)); err == nil {
		t.Fatalf("answered: %v", r)
	}
}

func TestFilesUnderCountsThisProcesssDescriptors(t *testing.T) {
	path := testkit.NewDB(t, schema.PerType, "delete")
	before := testkit.FilesUnder(t, os.Getpid(), path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := testkit.DBFiles(t, os.Getpid(), path); got != before+1 {
		t.Errorf("DBFiles = %d with the file open, want %d", got, before+1)
	}
}

func TestPollWaitsForTheCondition(t *testing.T) {
	n := 0
	if !testkit.Poll(5*time.Second, func() bool { n++; return n == 3 }) || n != 3 {
		t.Errorf("Poll returned after %d tries, want 3", n)
	}
	if testkit.Poll(0, func() bool { return false }) {
		t.Error("Poll reported a condition that never held")
	}
}
