package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// A Litestream replica is a file that `litestream restore -f` keeps in step
// with a writer elsewhere. The follower writes each replicated transaction's
// pages into the file in place, under the same exclusive lock SQLite's own
// writers take, so a reader inside a read transaction never sees half of
// one. But it rewrites page 1, and with it the file change counter by which
// SQLite notices another process's commit, only when the transaction changed
// page 1: an insert that fits in an existing leaf page leaves it alone.
// SQLite then neither drops its page cache nor moves PRAGMA data_version, and
// a reader would go on answering from old pages, or from a mix of old cached
// pages and new ones read from the file.
//
// So a store opened on a replica (recognised by the follower's -txid file
// next to it, which it writes after every set of transactions it applies)
// differs in two ways:
//   - its connections keep no page beyond the read transaction that read it
//     (PRAGMA cache_size=0): every decision reads the pages as they are in
//     the file under its own read lock. Pages within the memory map (the
//     first 2 GB) are read from the map in any case; the rest cost a pread
//     each instead of a page-cache hit;
//   - Refresh takes a change of the file's size or modification time, or of
//     the -txid file, as a committed change, in addition to data_version.
//
// Its journal must be the rollback journal. In WAL mode SQLite holds a shared
// lock on the file for as long as a connection is open, and the follower,
// which waits for the exclusive lock before applying anything, would wait for
// as long as the server runs.

// TXIDSuffix names the file in which `litestream restore -f` records the last
// transaction it applied to the replica at path: path + TXIDSuffix.
const TXIDSuffix = "-txid"

// IsReplica reports whether path is kept by a Litestream follower.
func IsReplica(path string) bool {
	_, err := os.Stat(path + TXIDSuffix)
	return err == nil
}

// replicaMark is what the follower changes when it applies transactions.
type replicaMark struct {
	size    int64
	modTime time.Time
	txid    string
	applied time.Time // when the follower last wrote the -txid file
}

func readReplicaMark(path string) (replicaMark, error) {
	var m replicaMark
	fi, err := os.Stat(path)
	if err != nil {
		return m, err
	}
	m.size, m.modTime = fi.Size(), fi.ModTime()
	// The follower replaces the -txid file by a rename: a file missing for
	// a moment (or removed) leaves the data's own figures to go by.
	if tf, err := os.Stat(path + TXIDSuffix); err == nil {
		m.applied = tf.ModTime()
	}
	if b, err := os.ReadFile(path + TXIDSuffix); err == nil {
		m.txid = string(bytes.TrimSpace(b))
	}
	return m, nil
}

// moved reports whether the follower wrote to the file since m was taken.
func (m replicaMark) moved(now replicaMark) bool {
	return m.size != now.size || !m.modTime.Equal(now.modTime) || m.txid != now.txid
}

// ReplicaState is how far a Litestream replica has been brought.
type ReplicaState struct {
	TXID    uint64    // the last transaction the follower applied
	Applied time.Time // when it last applied some
}

// Replica reports the store's replica state as of the last Refresh, and false
// when the store's file is not a Litestream replica.
func (s *Store) Replica() (ReplicaState, bool) {
	if !s.replica {
		return ReplicaState{}, false
	}
	s.mu.Lock()
	m := s.mark
	s.mu.Unlock()
	txid, _ := strconv.ParseUint(m.txid, 16, 64)
	return ReplicaState{TXID: txid, Applied: m.applied}, true
}

// ErrReplicaWAL is the error of opening a Litestream replica in WAL mode.
var ErrReplicaWAL = errors.New("a Litestream replica in WAL mode")

// errReplicaWAL explains why a replica in WAL mode is not opened.
func errReplicaWAL(path string) error {
	return fmt.Errorf("open %s: %w (%s%s is next to it), in which this server's connections would keep `litestream restore -f` from ever applying a change; switch it to the rollback journal once, before the follower runs: sqlite3 %s 'PRAGMA journal_mode=DELETE' (see \"Replicas kept by Litestream\" in the operator guide)", path, ErrReplicaWAL, path, TXIDSuffix, path)
}
