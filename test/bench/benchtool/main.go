// Command benchtool is the helper of test/bench/run.sh: it writes the
// benchmark's database, query file and hosts file deterministically, serves a
// loopback upstream that answers every name, and waits for a server to answer
// a blocked name.
//
//	benchtool gen -rows N -db rules.db [-hosts blocked.hosts] [-queries q.txt -nq 1000000]
//	benchtool upstream -addr 127.0.0.1:5301
//	benchtool ready -addr 127.0.0.1:5300 -name NAME -since UNIXNANO [-timeout 300s]
//	benchtool probe -rows N            (prints the first blocked name)
//
// Names. Row i has a first label made of a 7-character base-36 token that
// grows with i, so rows come out in key order and can be appended to the
// b-tree without sorting 100 M strings; then a word, 0–4 more word labels and
// a TLD: 2–6 labels, e.g. "0k3j9x2-track.cdn.video.com". Even rows go to
// block_exact, odd rows to block_wildcard. Names in no table use tokens
// between the rows' tokens, and their other labels are plain words, which no
// row starts with, so no suffix of theirs is a row either.
//
// Queries: 90 % names in no table, 5 % exact rows, 5 % a label under a
// wildcard row, each class drawn with a Zipf skew (s = 1.05) over a pool of
// its names, so names repeat as in real traffic.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool gen|upstream|ready|probe|lists-sql [flags]")
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{"gen": gen, "upstream": upstream, "ready": ready, "probe": probe, "lists-sql": listsSQL}
	cmd, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "benchtool: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := cmd(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

var words = strings.Fields(`ads adserver track tracker trk pixel tag analytics stats metrics telemetry
log collect events sync cookie id push promo offer bid rtb media video player stream cdn static img
assets content api app mobile web mail data cloud edge node secure login auth portal shop store pay
link redirect widget social share feed news blog search survey game play bonus casino bet crypto
coin wallet cash loan fast best top free mega super smart open net online digital global world city`)

var tlds = strings.Fields(`com com com com com net net org io co info biz xyz top site online de uk ru cn fr jp br in`)

const tokenSpace = 78364164096 // 36^7

// namer builds names for a database of rows rows.
type namer struct {
	rows int64
	step int64
}

func newNamer(rows int64) *namer {
	return &namer{rows: rows, step: tokenSpace / (rows + 1)}
}

func mix(x uint64) uint64 { // splitmix64 finaliser
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// name appends the name with the given token to buf. Its shape (labels,
// words) depends only on the token, so it is deterministic.
func (n *namer) name(buf []byte, token int64) []byte {
	var tok [7]byte
	for i, t := 6, token; i >= 0; i, t = i-1, t/36 {
		tok[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[t%36]
	}
	h := mix(uint64(token))
	buf = append(buf, tok[:]...)
	buf = append(buf, '-')
	buf = append(buf, words[h%uint64(len(words))]...)
	h /= uint64(len(words))
	labels := 2 + int(h%100*5/100) // 2..6 labels, about evenly
	h /= 100
	for range labels - 2 {
		buf = append(buf, '.')
		buf = append(buf, words[h%uint64(len(words))]...)
		h = mix(h)
	}
	buf = append(buf, '.')
	return append(buf, tlds[h%uint64(len(tlds))]...)
}

// row is the name of row i; miss is the j-th name in no table.
func (n *namer) row(buf []byte, i int64) []byte  { return n.name(buf, i*n.step+n.step) }
func (n *namer) miss(buf []byte, j int64) []byte { return n.name(buf, j*n.step+n.step+n.step/2) }

func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	rows := fs.Int64("rows", 1000000, "rows in the database")
	dbPath := fs.String("db", "", "database to write (must not exist)")
	hosts := fs.String("hosts", "", "also write a hosts file of every row")
	queries := fs.String("queries", "", "also write a dnsperf query file (Zipf-distributed names)")
	distinct := fs.String("distinct", "", "also write a dnsperf query file of names each asked once")
	nq := fs.Int("nq", 1000000, "lines in the query file")
	seed := fs.Uint64("seed", 1, "seed of the query file")
	fs.Parse(args)
	n := newNamer(*rows)
	if *dbPath != "" {
		t0 := time.Now()
		if err := writeDB(*dbPath, n); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %d rows to %s in %s\n", *rows, *dbPath, time.Since(t0).Round(time.Millisecond))
	}
	if *hosts != "" {
		if err := writeFile(*hosts, func(w *bufio.Writer) {
			var buf []byte
			for i := range *rows {
				buf = append(n.row(append(buf[:0], "0.0.0.0 "...), i), '\n')
				w.Write(buf)
			}
		}); err != nil {
			return err
		}
	}
	if *queries != "" {
		if err := writeFile(*queries, func(w *bufio.Writer) { writeQueries(w, n, *nq, *seed) }); err != nil {
			return err
		}
	}
	if *distinct != "" {
		if err := writeFile(*distinct, func(w *bufio.Writer) { writeDistinct(w, n, *nq) }); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, fill func(*bufio.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fill(w)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeQueries(w *bufio.Writer, n *namer, nq int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 7))
	half := n.rows / 2
	pool := func(size int64) *rand.Zipf { return rand.NewZipf(r, 1.05, 1, uint64(max(size, 1)-1)) }
	misses, exact, wild := pool(4*int64(nq)), pool(half), pool(half)
	// Zipf ranks are spread over the pool by an odd multiplier, so the
	// popular names are not all neighbours in key order.
	spread := func(rank uint64, size int64) int64 { return int64(mix(rank) % uint64(max(size, 1))) }
	var buf []byte
	for range nq {
		buf = buf[:0]
		switch p := r.IntN(100); {
		case p < 90:
			buf = n.miss(buf, spread(misses.Uint64(), 4*int64(nq)))
		case p < 95:
			buf = n.row(buf, 2*spread(exact.Uint64(), half))
		default:
			i := 2*spread(wild.Uint64(), half) + 1
			buf = append(buf, words[i%int64(len(words))]...)
			buf = n.row(append(buf, '.'), i)
		}
		buf = append(buf, " A\n"...)
		w.Write(buf)
	}
}

// writeDistinct writes nq queries whose names are all different, so that no
// cache of any kind helps: 90 % names in no table, 10 % blocked rows (half
// exact, half below a wildcard row), spread over the whole key space.
func writeDistinct(w *bufio.Writer, n *namer, nq int) {
	var buf []byte
	stride := max(n.rows/int64(max(nq/10, 1)), 1)
	for i := range int64(nq) {
		buf = buf[:0]
		switch j := i / 10; {
		case i%10 != 0:
			buf = n.miss(buf, i)
		case j%2 == 0:
			buf = n.row(buf, (j*stride)&^1%n.rows)
		default:
			k := ((j * stride) | 1) % n.rows
			buf = append(buf, words[i%int64(len(words))]...)
			buf = n.row(append(buf, '.'), k)
		}
		buf = append(buf, " A\n"...)
		w.Write(buf)
	}
}

// writeDB creates a per-type database and bulk-loads it: journal off, one
// transaction, rows appended in key order with 500-row INSERTs, then WAL mode
// and the change log, as a live database has them.
func writeDB(path string, n *namer) error {
	if err := schema.Create(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=rw")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	stmts := []string{"DROP TABLE " + schema.ChangeLog}
	for _, t := range schema.LoggedTables {
		for _, trig := range schema.ChangeLogTriggers(t.Name()) {
			stmts = append([]string{"DROP TRIGGER " + trig}, stmts...)
		}
	}
	stmts = append(stmts, "PRAGMA journal_mode=OFF", "PRAGMA synchronous=OFF", "PRAGMA cache_size=-262144")
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	err = c.Raw(func(dc any) error { return bulkLoad(dc.(*sqlite3.SQLiteConn), n) })
	c.Close()
	if err != nil {
		return err
	}
	for _, s := range []string{"PRAGMA journal_mode=WAL"} {
		if _, err := db.Exec(s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return schema.AddChangeLog(db, schema.PerType)
}

const batch = 500

func bulkLoad(c *sqlite3.SQLiteConn, n *namer) error {
	q := func(t string) (*sqlite3.SQLiteStmt, error) {
		st, err := c.Prepare("INSERT INTO " + t + " VALUES " + strings.TrimSuffix(strings.Repeat("(?),", batch), ","))
		if err != nil {
			return nil, err
		}
		return st.(*sqlite3.SQLiteStmt), nil
	}
	ex, err := q("block_exact")
	if err != nil {
		return err
	}
	wc, err := q("block_wildcard")
	if err != nil {
		return err
	}
	if _, err := c.Exec("BEGIN", nil); err != nil {
		return err
	}
	// A second goroutine formats names while this one inserts.
	type pair struct{ ex, wc []driver.NamedValue }
	out := make(chan pair, 8)
	go func() {
		defer close(out)
		var buf []byte
		for i := int64(0); i+2*batch <= n.rows; i += 2 * batch {
			p := pair{make([]driver.NamedValue, batch), make([]driver.NamedValue, batch)}
			for j := range int64(batch) {
				buf = n.row(buf[:0], i+2*j)
				p.ex[j] = driver.NamedValue{Ordinal: int(j) + 1, Value: string(buf)}
				buf = n.row(buf[:0], i+2*j+1)
				p.wc[j] = driver.NamedValue{Ordinal: int(j) + 1, Value: string(buf)}
			}
			out <- p
		}
	}()
	ctx := context.Background()
	for p := range out {
		if _, err := ex.ExecContext(ctx, p.ex); err != nil {
			return err
		}
		if _, err := wc.ExecContext(ctx, p.wc); err != nil {
			return err
		}
	}
	// The rows that do not fill a batch.
	done := n.rows / (2 * batch) * 2 * batch
	for i := done; i < n.rows; i++ {
		t := "block_exact"
		if i%2 == 1 {
			t = "block_wildcard"
		}
		if _, err := c.ExecContext(ctx, "INSERT INTO "+t+" VALUES (?)", []driver.NamedValue{{Ordinal: 1, Value: string(n.row(nil, i))}}); err != nil {
			return err
		}
	}
	ex.Close()
	wc.Close()
	_, err = c.Exec("COMMIT", nil)
	return err
}

func probe(args []string) error {
	fs := flag.NewFlagSet("probe", flag.ExitOnError)
	rows := fs.Int64("rows", 1000000, "rows in the database")
	fs.Parse(args)
	fmt.Println(string(newNamer(*rows).row(nil, 0)))
	return nil
}

// listsSQL prints the SQL expression of the value the lists column of a
// rule row stores for the mask expression EXPR (schema.EncodeListsSQL), for
// scripts that write memberships with sqlite3.
func listsSQL(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: benchtool lists-sql MASK-EXPRESSION")
	}
	fmt.Println(schema.EncodeListsSQL(args[0]))
	return nil
}

// upstream answers every A query with 192.0.2.1 and every other type with an
// empty NOERROR, on UDP, until killed. With -cname P, P % of the names
// (chosen by a hash of the name, so a name always gets the same answer) are
// answered with a 2-step CNAME chain ending at the address, as CDNs answer.
func upstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:5301", "loopback address to serve on")
	cname := fs.Int("cname", 0, "percentage of names answered with a 2-step CNAME chain")
	fs.Parse(args)
	if h, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(h).IsLoopback() {
		return fmt.Errorf("upstream: %s is not a loopback address", *addr)
	}
	a := net.ParseIP("192.0.2.1")
	dns.HandleFunc(".", func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		if len(r.Question) == 1 && r.Question[0].Qtype == dns.TypeA {
			owner := r.Question[0].Name
			h := fnv.New32a()
			h.Write([]byte(strings.ToLower(owner)))
			if sum := h.Sum32(); int(sum%100) < *cname {
				for i := 1; i <= 2; i++ {
					target := fmt.Sprintf("e%d.%08x.cdn%d.example.", i, sum, i)
					m.Answer = append(m.Answer, &dns.CNAME{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: target})
					owner = target
				}
			}
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: a})
		}
		w.WriteMsg(m)
	})
	return (&dns.Server{Addr: *addr, Net: "udp", UDPSize: 4096}).ListenAndServe()
}

// ready waits until the server answers name with the sinkhole address and
// prints the seconds since -since.
func ready(args []string) error {
	fs := flag.NewFlagSet("ready", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:5300", "server to probe")
	name := fs.String("name", "", "a blocked name")
	url := fs.String("url", "", "instead: the ready plugin's URL, ready when it answers 200")
	since := fs.Int64("since", time.Now().UnixNano(), "start time, Unix nanoseconds")
	timeout := fs.Duration("timeout", 300*time.Second, "give up after")
	fs.Parse(args)
	cl := &dns.Client{Net: "udp", Timeout: 100 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(*name), dns.TypeA)
	deadline := time.Now().Add(*timeout)
	for time.Now().Before(deadline) {
		if *url != "" {
			if resp, err := http.Get(*url); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					fmt.Printf("%.3f\n", float64(time.Now().UnixNano()-*since)/1e9)
					return nil
				}
			}
		} else if r, _, err := cl.Exchange(m, *addr); err == nil && len(r.Answer) == 1 {
			if a, ok := r.Answer[0].(*dns.A); ok && a.A.IsUnspecified() {
				fmt.Printf("%.3f\n", float64(time.Now().UnixNano()-*since)/1e9)
				return nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return errors.New("ready: no blocked answer before the timeout")
}
