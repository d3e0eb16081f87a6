package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// defaultSyncTimeout bounds one list's download (connection, headers and
// body): long enough for a list of tens of MB on a slow link, short enough
// that a source that hangs does not hold a scheduled sync for hours.
const defaultSyncTimeout = 5 * time.Minute

const syncUsage = "usage: sqlitefilter sync DB [--timeout D] [--list NAME…]"

// syncJob is one `sync`: every list with a URL (or the lists named) is
// fetched, and re-imported when its source changed.
type syncJob struct {
	dbPath  string
	timeout time.Duration // per list, for the download
	names   []string      // --list; nil: every enabled list with a URL
	client  *http.Client
	stdout  io.Writer
	stderr  io.Writer
}

func runSync(args []string) error {
	pos, vals, err := multiArgs(args, "list", "timeout")
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef(syncUsage)
	}
	j := &syncJob{dbPath: pos[0], timeout: defaultSyncTimeout, stdout: stdout, stderr: os.Stderr}
	if v, ok := vals["timeout"]; ok {
		d, err := time.Duration(0), error(nil)
		if len(v) == 1 {
			d, err = time.ParseDuration(v[0])
		}
		if len(v) != 1 || err != nil || d <= 0 {
			return usagef("--timeout takes one duration such as 30s or 5m, got %q", strings.Join(v, " "))
		}
		j.timeout = d
	}
	if v, ok := vals["list"]; ok {
		if len(v) == 0 {
			return usagef("--list names at least one list")
		}
		j.names = v
	}
	j.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer j.client.CloseIdleConnections()
	ctx, stop := signalContext(context.Background())
	defer stop()
	return j.run(ctx)
}

// syncList is a list with a URL and what the last sync stored about its
// source.
type syncList struct {
	id      int
	name    string
	enabled bool
	url     string
	format  string
	state   syncState
}

// syncState is a row of schema.ListSyncTable; its validators count only
// while url is the list's url.
type syncState struct {
	url, etag, lastModified, sha256, status string
	size, mtime                             int64
}

// current reports whether the stored validators are those of l's source.
func (l *syncList) current() bool { return l.state.url != "" && l.state.url == l.url }

// run syncs the lists one after the other. A list that fails keeps its rows
// and the others go on; the error then says how many failed (exit 1). A
// signal stops it within the list in progress, which is rolled back.
func (j *syncJob) run(ctx context.Context) error {
	db, err := openDatabase(j.dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	lists, err := j.selectLists(db)
	if err != nil {
		return err
	}
	if len(lists) == 0 {
		fmt.Fprintf(j.stdout, "%s has no list with a URL (give one with `sqlitefilter list add %s NAME --url URL --format F`)\n", j.dbPath, j.dbPath)
		return db.Close()
	}
	failed := 0
	for _, l := range lists {
		if !l.enabled && j.names == nil {
			fmt.Fprintf(j.stdout, "%s: skipped (disabled)\n", l.name)
			continue
		}
		outcome, err := j.syncOne(ctx, db, l)
		if ctx.Err() != nil {
			return stopped(ctx, "list %s was rolled back, its rows are as they were; the lists synced before it keep their new rows", l.name)
		}
		if err != nil {
			failed++
			fmt.Fprintf(j.stdout, "%s: failed: %v\n", l.name, err)
			fmt.Fprintf(j.stderr, "sqlitefilter sync: list %s (%s): %v; its rows are kept\n", l.name, l.url, err)
			if serr := recordFailure(db, l, err); serr != nil {
				fmt.Fprintf(j.stderr, "sqlitefilter sync: list %s: %v\n", l.name, serr)
			}
			continue
		}
		fmt.Fprintf(j.stdout, "%s: %s\n", l.name, outcome)
	}
	if err := keepKeyFilter(ctx, db, j.stdout, keepOrStoreLarge); err != nil {
		if ctx.Err() != nil {
			return stopped(ctx, "every list is synced; the key filter stored in the file is as it was")
		}
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d lists failed", failed, len(lists))
	}
	return db.Close()
}

// selectLists returns the lists to sync with their stored state, creating
// the sync table on the first sync of a file.
func (j *syncJob) selectLists(db *database) ([]syncList, error) {
	if ok, err := schema.HasListTables(db.DB); err != nil || !ok {
		if err == nil && len(j.names) > 0 {
			err = fmt.Errorf("no list %q in %s", j.names[0], j.dbPath)
		}
		return nil, err
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlitefilter_lists WHERE coalesce(url, '') != ''").Scan(&n); err != nil {
		return nil, fmt.Errorf("read the lists: %w", err)
	}
	if n == 0 && len(j.names) == 0 {
		return nil, nil
	}
	if _, err := schema.AddListSync(db.DB); err != nil {
		return nil, err
	}
	rows, err := db.Query(`SELECT l.id, l.name, l.enabled, coalesce(l.url, ''), coalesce(l.format, ''),
		coalesce(s.url, ''), coalesce(s.etag, ''), coalesce(s.last_modified, ''), coalesce(s.sha256, ''),
		coalesce(s.status, ''), coalesce(s.size, -1), coalesce(s.mtime, 0)
		FROM sqlitefilter_lists l LEFT JOIN sqlitefilter_list_sync s ON s.list_id = l.id ORDER BY l.id`)
	if err != nil {
		return nil, fmt.Errorf("read the lists: %w", err)
	}
	defer rows.Close()
	byName := map[string]syncList{}
	var all []syncList
	for rows.Next() {
		var l syncList
		s := &l.state
		if err := rows.Scan(&l.id, &l.name, &l.enabled, &l.url, &l.format, &s.url, &s.etag, &s.lastModified, &s.sha256, &s.status, &s.size, &s.mtime); err != nil {
			return nil, fmt.Errorf("read the lists: %w", err)
		}
		byName[l.name] = l
		if l.url != "" {
			all = append(all, l)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the lists: %w", err)
	}
	if j.names == nil {
		return all, nil
	}
	var named []syncList
	for _, name := range j.names {
		l, ok := byName[name]
		switch {
		case !ok:
			return nil, fmt.Errorf("no list %q in %s", name, j.dbPath)
		case l.url == "":
			return nil, fmt.Errorf("list %s has no URL to sync from", name)
		}
		named = append(named, l)
	}
	return named, nil
}

// fetched is what a download brought: nothing new (notModified), or a body
// in a temporary file with the validators to store for it.
type fetched struct {
	notModified bool
	why         string // for notModified: how the source said so
	path        string // the body, removed by the caller
	sha256      string
	etag        string
	lastMod     string
	size, mtime int64 // of a file source; -1, 0 for HTTP
	contentType string
}

// syncOne fetches list l and re-imports it if its source changed; it
// returns the summary of what it did.
func (j *syncJob) syncOne(ctx context.Context, db *database, l syncList) (string, error) {
	prog := newProgress()
	defer prog.close()
	dctx, cancel := context.WithTimeoutCause(ctx, j.timeout, fmt.Errorf("no complete answer within %v (--timeout)", j.timeout))
	f, err := j.fetch(dctx, l, prog)
	if err != nil && ctx.Err() == nil && dctx.Err() != nil {
		err = context.Cause(dctx) // the timeout, which the transport reports as a bare deadline
	}
	cancel()
	if f != nil && f.path != "" {
		defer os.Remove(f.path)
	}
	if err != nil {
		return "", err
	}
	if f.notModified {
		if l.state.status != "ok" {
			if err := recordOK(db, l); err != nil {
				return "", err
			}
		}
		return "unchanged (" + f.why + ")", nil
	}
	if l.current() && f.sha256 == l.state.sha256 {
		// A server that ignores validators, or a file touched but not
		// changed: the rows are those of this body already.
		if err := storeValidators(db, l, f); err != nil {
			return "", err
		}
		return "unchanged (same content)", nil
	}
	ch, err := j.reimport(ctx, db, l, f, prog)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("updated: +%d -%d, %d rows", ch.added, ch.removed, ch.rows), nil
}

// fetch downloads l's source, asking with the stored validators whether it
// changed.
func (j *syncJob) fetch(ctx context.Context, l syncList, prog *progress) (*fetched, error) {
	u, err := url.Parse(l.url)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
		return j.fetchHTTP(ctx, l, prog)
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("a file URL names a file on this machine (file:///path), not on %s", u.Host)
		}
		return fetchFile(ctx, l, u.Path, prog)
	case "":
		return fetchFile(ctx, l, l.url, prog)
	}
	return nil, fmt.Errorf("cannot fetch a %s URL (want http, https, file or a path)", u.Scheme)
}

func (j *syncJob) fetchHTTP(ctx context.Context, l syncList, prog *progress) (*fetched, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.url, nil)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("User-Agent", "sqlitefilter-sync")
	conditional := false
	if l.current() && l.state.etag != "" {
		req.Header.Set("If-None-Match", l.state.etag)
		conditional = true
	}
	if l.current() && l.state.lastModified != "" {
		req.Header.Set("If-Modified-Since", l.state.lastModified)
		conditional = true
	}
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && conditional:
		return &fetched{notModified: true, why: resp.Status}, nil
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	f := &fetched{etag: resp.Header.Get("ETag"), lastMod: resp.Header.Get("Last-Modified"), size: -1, contentType: resp.Header.Get("Content-Type")}
	var read atomic.Int64
	prog.setInput(l.name, max(resp.ContentLength, 0), &read)
	n, err := f.save(countingReader{resp.Body, &read})
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return f, fmt.Errorf("truncated body: the connection ended after %d of %d bytes", n, resp.ContentLength)
		}
		return f, fmt.Errorf("read the body: %w", err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return f, fmt.Errorf("truncated body: %d of %d bytes", n, resp.ContentLength)
	}
	return f, nil
}

// fetchFile reads a list from a file, unless its size and modification time
// are those of the last import.
func fetchFile(ctx context.Context, l syncList, path string, prog *progress) (*fetched, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if l.current() && l.state.size == st.Size() && l.state.mtime == st.ModTime().UnixNano() {
		return &fetched{notModified: true, why: "same size and modification time"}, nil
	}
	src, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	f := &fetched{size: st.Size(), mtime: st.ModTime().UnixNano()}
	var read atomic.Int64
	prog.setInput(l.name, st.Size(), &read)
	if _, err := f.save(countingReader{newCancelReader(ctx, src), &read}); err != nil {
		return f, fmt.Errorf("read %s: %w", path, err)
	}
	return f, nil
}

// save copies the body into a temporary file, hashing it on the way: the
// list is imported only from a body received whole, and the download holds
// no lock on the database however long it takes.
func (f *fetched) save(r io.Reader) (int64, error) {
	tmp, err := os.CreateTemp("", "sqlitefilter-sync-*")
	if err != nil {
		return 0, fmt.Errorf("temporary file: %w", err)
	}
	f.path = tmp.Name()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write %s: %w", f.path, cerr)
	}
	f.sha256 = hex.EncodeToString(h.Sum(nil))
	return n, err
}

// reimport replaces the list's rows by the body's, through import --list's
// transaction; the sync state is written in that same transaction. A body
// that does not look like the list's format is refused and nothing changes.
func (j *syncJob) reimport(ctx context.Context, db *database, l syncList, f *fetched, prog *progress) (listChange, error) {
	in, err := openInput(ctx, f.path)
	if err != nil {
		return listChange{}, err
	}
	defer in.close()
	in.name = l.url
	fm := formatAuto
	if l.format != "" {
		if fm, err = parseFormat(l.format); err != nil {
			return listChange{}, err
		}
	}
	if fm == formatAuto {
		fm = sniff(in.head(100))
	}
	var msgs bytes.Buffer
	var change listChange
	job := importJob{format: fm, batch: defaultBatch, list: l.name, stdout: io.Discard, stderr: &msgs}
	// A zone fills the tables its triggers say; any other list one table.
	if fm != formatRPZ {
		if job.table, err = syncTable(db, l, fm); err != nil {
			return listChange{}, err
		}
		job.tableOK = true
	}
	job.onList = func(tx *sql.Tx, total *counts, ch listChange) error {
		if err := acceptBody(total, fm, f.contentType, firstLine(msgs.String())); err != nil {
			return err
		}
		change = ch
		return storeImported(tx, l, f)
	}
	p, err := job.resolve(in)
	if err != nil {
		return listChange{}, err
	}
	var kept int64
	if err := job.load(ctx, j.dbPath, []*input{in}, []parser{p}, prog, &kept); err != nil {
		return listChange{}, err
	}
	// The lines the list gave no row for, as import reports them.
	j.stderr.Write(msgs.Bytes())
	return change, nil
}

// syncTable is the table a list of format f is imported into: the table of
// the format's that holds the list's rows now, so that a list first
// imported by hand with --table keeps its table; for a list with no rows
// yet, block_exact for hosts and plain lists (a hosts entry names one
// host), block_wildcard for adblock and dnsmasq lists (||name^ and
// address=/name/ cover the names below), block_regex for patterns. A CSV
// list holds aliases or rewrites, which its lines do not tell: it must have
// been imported once with --table.
func syncTable(db *database, l syncList, f format) (schema.Table, error) {
	cands := formatTables(f)
	var holding []schema.Table
	for _, t := range cands {
		q := fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s WHERE %s)", t.Name(), inList("lists"))
		if db.layout == schema.Normalized {
			q = fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM records WHERE record_type = '%s' AND %s)", t.RecordType(), inList("lists"))
		}
		var has bool
		if err := db.QueryRow(q, bit(l.id)).Scan(&has); err != nil {
			if isNoSuchTable(err) {
				continue
			}
			return 0, fmt.Errorf("find the table of list %s: %w", l.name, err)
		}
		if has {
			holding = append(holding, t)
		}
	}
	switch {
	case len(holding) == 1:
		return holding[0], nil
	case len(holding) > 1:
		return 0, fmt.Errorf("the list has rows in %s and %s; sync cannot tell which one its source fills (import it by hand with import --list %s --table T)", holding[0], holding[1], l.name)
	case f == formatHosts || f == formatPlain:
		return schema.BlockExact, nil
	case f == formatCSV:
		return 0, fmt.Errorf("a csv list holds aliases or rewrites, which sync cannot tell apart: import it once with import --list %s --table T", l.name)
	}
	return cands[0], nil
}

// acceptBody refuses a body that is not a list of format f, so that an
// error page, a captive portal or a list in another format never replaces
// a list's rows: it must give at least one row, and no more invalid lines
// than rows. A real list with a few lines the import rejects (an odd name,
// a stray word) still passes; an HTML page read as a hosts file, or a hosts
// file read as an adblock list, does not.
func acceptBody(total *counts, f format, contentType, first string) error {
	rows := total.added + total.present
	if rows > 0 && total.invalid <= rows {
		return nil
	}
	why := fmt.Sprintf("not a %s list: %d rows and %d invalid lines", f, rows, total.invalid)
	if rows == 0 && total.invalid == 0 {
		why = fmt.Sprintf("the body gave no rows as a %s list (%d lines skipped)", f, total.skipped)
	}
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "text/html" {
		why += "; the server sent an HTML page"
	}
	if first != "" {
		why += "; first: " + first
	}
	return errors.New(why)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// storeImported records, in the import's transaction, the validators of
// the body just imported and a successful sync.
func storeImported(tx *sql.Tx, l syncList, f *fetched) error {
	now := time.Now().UnixMilli()
	_, err := tx.Exec(`INSERT INTO sqlitefilter_list_sync (list_id, url, etag, last_modified, size, mtime, sha256, updated_at, status, status_at)
		VALUES (?1, ?2, nullif(?3, ''), nullif(?4, ''), ?5, ?6, ?7, ?8, 'ok', ?8)
		ON CONFLICT (list_id) DO UPDATE SET url = excluded.url, etag = excluded.etag, last_modified = excluded.last_modified,
			size = excluded.size, mtime = excluded.mtime, sha256 = excluded.sha256, updated_at = excluded.updated_at,
			status = 'ok', status_at = excluded.status_at`,
		l.id, l.url, f.etag, f.lastMod, nullSize(f.size), f.mtime, f.sha256, now)
	if err != nil {
		return fmt.Errorf("record the sync of list %s: %w", l.name, err)
	}
	return nil
}

// storeValidators records the new validators of a body whose content was
// imported before, so that the next sync can ask with them.
func storeValidators(db *database, l syncList, f *fetched) error {
	_, err := db.Exec(`UPDATE sqlitefilter_list_sync SET etag = nullif(?, ''), last_modified = nullif(?, ''), size = ?, mtime = ?,
		status = 'ok', status_at = ? WHERE list_id = ?`,
		f.etag, f.lastMod, nullSize(f.size), f.mtime, time.Now().UnixMilli(), l.id)
	if err != nil {
		return fmt.Errorf("record the sync of list %s: %w", l.name, err)
	}
	return nil
}

// recordOK marks the list synced again after a failure; a list found
// unchanged that was fine already is not written to at all, so a sync of
// unchanged lists commits nothing (no reload on the servers, nothing to
// replicate).
func recordOK(db *database, l syncList) error {
	if _, err := db.Exec("UPDATE sqlitefilter_list_sync SET status = 'ok', status_at = ? WHERE list_id = ?", time.Now().UnixMilli(), l.id); err != nil {
		return fmt.Errorf("record the sync of list %s: %w", l.name, err)
	}
	return nil
}

// recordFailure records why the list's sync failed, keeping the validators
// of the body last imported (its rows are still those).
func recordFailure(db *database, l syncList, why error) error {
	_, err := db.Exec(`INSERT INTO sqlitefilter_list_sync (list_id, url, status, status_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (list_id) DO UPDATE SET status = excluded.status, status_at = excluded.status_at`,
		l.id, l.url, "failed: "+why.Error(), time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("record the failure: %w", err)
	}
	return nil
}

// nullSize is a file source's size, or NULL for an HTTP one.
func nullSize(n int64) any {
	if n < 0 {
		return nil
	}
	return n
}
