package bloom

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/store"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// A filter stored with the data (schema.KeyFilterDDL) is read in the time it
// takes to copy it, about a second for a hundred million keys, where a build
// scans every key (20 s). The admin command writes it (Save) after the
// commands that write many keys; the commits after it are in the change log
// like any others, and a reader adds them as it does after a build. It is
// tied to the data by the log: it records the last change-log id it holds
// and the schema version it was written under, and is read only while the
// schema is that one and the log still holds every entry after that id. A
// bulk load by another tool that trims the log past it, a table created, a
// trigger dropped: the reader builds from the keys, as it does for a file
// with no stored filter. A stale one is never used.

// storedFormat is the stored layout this code reads and writes: the
// split-block filter of bloom.go (32-byte blocks, XXH64 of the lower-cased
// key XOR the seed), as little-endian 32-bit words.
const storedFormat = 1

// storedPart is the most bytes of the filter one row holds: a blob is
// read whole, and a part of 1 MiB keeps each read small.
const storedPart = 1 << 20

// storedInfo is the row of schema.KeyFilter.
type storedInfo struct {
	format, blocks, keys, changeID, schemaVersion int64
	seed                                          uint64
}

// readStoredInfo reads the stored filter's row; ok is false when the file
// stores none.
func readStoredInfo(c *sqlite3.SQLiteConn) (info storedInfo, ok bool, err error) {
	n, err := store.QueryInt(c, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN (?1, ?2)", schema.KeyFilter, schema.KeyFilterBits)
	if err != nil || n < 2 {
		return info, false, err
	}
	rows, err := c.QueryContext(context.Background(), "SELECT format, seed, blocks, keys, change_id, schema_version FROM "+schema.KeyFilter+" LIMIT 1", nil)
	if err != nil {
		return info, false, err
	}
	defer rows.Close()
	dest := make([]driver.Value, 6)
	if err := rows.Next(dest); err != nil {
		if err == io.EOF {
			return info, false, nil
		}
		return info, false, err
	}
	var v [6]int64
	for i, d := range dest {
		x, isInt := d.(int64)
		if !isInt {
			return info, false, fmt.Errorf("%s: column %d is %T, not an integer", schema.KeyFilter, i+1, d)
		}
		v[i] = x
	}
	return storedInfo{format: v[0], seed: uint64(v[1]), blocks: v[2], keys: v[3], changeID: v[4], schemaVersion: v[5]}, true, nil
}

// staleness says why a stored filter cannot be used with the database as c
// sees it (inside a transaction), or "" when it can: the schema is the one
// it was written under, and the change log holds every entry after it.
func staleness(c *sqlite3.SQLiteConn, info storedInfo) (string, error) {
	if info.format != storedFormat {
		return fmt.Sprintf("its format %d is not %d", info.format, storedFormat), nil
	}
	_, why, err := logCovers(c, info.changeID, info.schemaVersion)
	return why, err
}

// usableStored reads the info of the filter stored in the file, inside a
// read transaction of c in which st.schema and st.logged were read, and
// reports whether it can be used, and why not when the file stores one it
// cannot use ("" if it stores none).
func (k *KeyFilter) usableStored(c *sqlite3.SQLiteConn, st *filterState) (storedInfo, bool, string, error) {
	if !st.logged {
		return storedInfo{}, false, "", nil
	}
	info, ok, err := readStoredInfo(c)
	if err != nil || !ok {
		return info, false, "", err
	}
	why, err := staleness(c, info)
	if err != nil || why != "" {
		return info, false, why, err
	}
	if size := info.blocks * bloomBlockBytes; info.blocks <= 0 || size > k.maxBytes {
		return info, false, fmt.Sprintf("it takes %.1f MB, %v (%.1f MB)", float64(size)/(1<<20), errTooBig, float64(k.maxBytes)/(1<<20)), nil
	}
	return info, true, "", nil
}

// errRewritten says the stored filter changed while it was read.
var errRewritten = errors.New("it was stored anew while it was read")

// readStored reads the bits of the stored filter info (usableStored) into
// st, a part per read transaction, each of which checks that the filter is
// still the one info describes: a writer waits for one part at most (1 MiB,
// a millisecond or two), and a build that yields to queries (pace.go)
// yields between parts. It returns why it did not read it (""
// when it did); only errStopped is an error.
func (k *KeyFilter) readStored(s *store.Store, st *filterState, info storedInfo) (string, error) {
	size := info.blocks * bloomBlockBytes
	b := newFilterOf(uint64(info.blocks), info.seed)
	for part := int64(0); part*storedPart < size; part++ {
		select {
		case <-k.stop:
			return "", errStopped
		default:
		}
		if !k.pace.chunk() {
			return "", errStopped
		}
		want := min(storedPart, size-part*storedPart)
		err := s.WithWatcher(func(c *sqlite3.SQLiteConn) (err error) {
			if _, err := c.ExecContext(context.Background(), "BEGIN", nil); err != nil {
				return err
			}
			defer func() {
				if _, cerr := c.ExecContext(context.Background(), "COMMIT", nil); err == nil {
					err = cerr
				}
			}()
			if now, ok, err := readStoredInfo(c); err != nil {
				return err
			} else if !ok || now != info {
				return errRewritten
			}
			v, ok, err := queryOne(c, "SELECT data FROM "+schema.KeyFilterBits+" WHERE part = ?1", []driver.NamedValue{{Ordinal: 1, Value: part}})
			if err != nil {
				return err
			}
			data, _ := v.([]byte)
			if !ok {
				return fmt.Errorf("part %d of its bits is missing", part)
			}
			if int64(len(data)) != want {
				return fmt.Errorf("part %d of its bits holds %d bytes, not %d", part, len(data), want)
			}
			words := b.words[part*storedPart/4:]
			for i := 0; i < len(data); i += 4 {
				words[i/4] = binary.LittleEndian.Uint32(data[i:])
			}
			return nil
		})
		k.pace.done()
		if k.afterChunk != nil {
			k.afterChunk(schema.KeyFilterBits)
		}
		if err != nil {
			return err.Error(), nil
		}
	}
	b.added.Store(info.keys)
	st.b, st.lastID, st.stored = b, info.changeID, true
	return "", nil
}

// ErrNoChangeLog says a database has no change log, without which a stored
// filter could not be tied to its data.
var ErrNoChangeLog = errors.New("the database has no change log (`sqlitefilter keyfilter` adds it)")

// Saved describes a filter Save stored.
type Saved struct {
	Keys, Bytes int64
	Took        time.Duration
	// Rebuilt: it was built from the keys; otherwise the filter stored
	// before was read and the change log added to it.
	Rebuilt bool
}

// Save stores the key filter of the database at path in the file, through
// db, a read-write handle of it (one connection, as the admin command
// opens it). The filter stored before is reused when it is current and
// still large enough for the keys; otherwise the filter is built from the
// keys. The build reads through its own read-only connections; the write
// then holds the write lock while it adds what the change log gained
// meanwhile, so that the stored filter holds every key up to the id it
// records. ctx cancelled stops it within a chunk of the build.
func Save(ctx context.Context, db *sql.DB, path string, maxBytes int64, log Logger) (Saved, error) {
	t0 := time.Now()
	s, err := store.Open(path, store.Options{Pool: 1, BusyTimeoutMS: 10000})
	if err != nil {
		return Saved{}, err
	}
	defer s.Close()
	k := New(maxBytes, log)
	if k == nil {
		return Saved{}, fmt.Errorf("no memory for a filter (%d bytes)", maxBytes)
	}
	defer k.Close()
	defer context.AfterFunc(ctx, func() { k.closeOnce.Do(func() { close(k.stop) }) })()
	st, err := k.build(s, 0)
	if err == nil && st.stored && st.b.added.Load() > st.b.capacity() {
		k.fromKeys = true // the stored one is full: size it anew
		st, err = k.build(s, 0)
	}
	if errors.Is(err, errStopped) && ctx.Err() != nil {
		return Saved{}, ctx.Err()
	}
	if err != nil {
		return Saved{}, err
	}
	if !st.logged {
		return Saved{}, ErrNoChangeLog
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return Saved{}, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*sqlite3.SQLiteConn)
		if !ok {
			return fmt.Errorf("not a SQLite connection: %T", dc)
		}
		return writeStored(c, st)
	})
	if err != nil {
		return Saved{}, fmt.Errorf("store the key filter: %w", err)
	}
	return Saved{Keys: st.b.added.Load(), Bytes: st.b.sizeBytes(), Took: time.Since(t0), Rebuilt: !st.stored}, nil
}

// writeStored replaces the stored filter with st's in one write
// transaction of c, after adding the keys logged since st was built.
func writeStored(c *sqlite3.SQLiteConn, st *filterState) (err error) {
	exec := func(q string, args ...any) error {
		nv := make([]driver.NamedValue, len(args))
		for i, a := range args {
			nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
		}
		_, err := c.ExecContext(context.Background(), q, nv)
		return err
	}
	if err := exec("BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			exec("ROLLBACK")
		}
	}()
	// Under the write lock, nothing commits between this read and the
	// write: the filter holds every key up to the id it records.
	if err := addLogged(c, st); err != nil {
		return err
	}
	if err := exec(schema.KeyFilterDDL); err != nil {
		return err
	}
	ver, err := store.QueryInt(c, "PRAGMA schema_version") // after the tables were created
	if err != nil {
		return err
	}
	if err := exec("DELETE FROM " + schema.KeyFilter); err != nil {
		return err
	}
	if err := exec("DELETE FROM " + schema.KeyFilterBits); err != nil {
		return err
	}
	if err := exec("INSERT INTO "+schema.KeyFilter+" (format, seed, blocks, keys, change_id, schema_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
		int64(storedFormat), int64(st.b.seed), int64(st.b.blocks), st.b.added.Load(), st.lastID, ver); err != nil {
		return err
	}
	buf := make([]byte, storedPart)
	words := st.b.words
	for part := int64(0); len(words) > 0; part++ {
		n := min(len(words), storedPart/4)
		for i, w := range words[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], w)
		}
		if err := exec("INSERT INTO "+schema.KeyFilterBits+" (part, data) VALUES (?1, ?2)", part, buf[:4*n]); err != nil {
			return err
		}
		words = words[n:]
	}
	return exec("COMMIT")
}

// StoredState describes the filter stored in a database file.
type StoredState struct {
	Present     bool
	Keys, Bytes int64
	// Behind is how many change-log entries were written since it was.
	Behind int64
	// Stale says why a server would not read it ("" when it would).
	Stale string
}

// Inspect reports what filter the database db, of layout l, stores, as a
// server opening it now would judge it.
func Inspect(ctx context.Context, db *sql.DB, l schema.Layout) (StoredState, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return StoredState{}, err
	}
	defer conn.Close()
	var out StoredState
	err = conn.Raw(func(dc any) (err error) {
		c, ok := dc.(*sqlite3.SQLiteConn)
		if !ok {
			return fmt.Errorf("not a SQLite connection: %T", dc)
		}
		if _, err := c.ExecContext(ctx, "BEGIN", nil); err != nil {
			return err
		}
		defer func() {
			if _, cerr := c.ExecContext(ctx, "COMMIT", nil); err == nil {
				err = cerr
			}
		}()
		info, ok, err := readStoredInfo(c)
		if err != nil || !ok {
			return err
		}
		out.Present, out.Keys, out.Bytes = true, info.keys, info.blocks*bloomBlockBytes
		if logged, err := hasChangeLog(c, l); err != nil {
			return err
		} else if !logged {
			out.Stale = ErrNoChangeLog.Error()
			return nil
		}
		seq, err := changeLogSeq(c)
		if err != nil {
			return err
		}
		out.Behind = seq - info.changeID
		out.Stale, err = staleness(c, info)
		return err
	})
	if err != nil {
		return StoredState{}, fmt.Errorf("read the stored key filter: %w", err)
	}
	return out, nil
}
