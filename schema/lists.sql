-- Named lists and client groups. Every rule row carries a `lists` bitmask
-- (bit i = the list whose id is i; bit 0 = `default`), added to the rule
-- tables by Upgrade with DEFAULT 1, so that a row written without naming a
-- list (a legacy script, the sqlite3 shell) is in `default`. These tables are
-- small: the plugin holds them in memory and follows them within refresh.
CREATE TABLE IF NOT EXISTS sqlitefilter_lists (
    id      INTEGER PRIMARY KEY CHECK (id BETWEEN 0 AND 63),
    name    TEXT NOT NULL UNIQUE,
    enabled INTEGER NOT NULL DEFAULT 1,
    url     TEXT,
    format  TEXT
);
INSERT OR IGNORE INTO sqlitefilter_lists (id, name) VALUES (0, 'default');

-- A group applies the lists of its mask (bit i = list id i) to the clients
-- of its prefixes; paused_until (unix milliseconds) turns its blocks off
-- until then. A client in no group gets the group `default`: its row when
-- there is one, else every enabled list.
CREATE TABLE IF NOT EXISTS sqlitefilter_groups (
    name         TEXT PRIMARY KEY NOT NULL,
    lists        INTEGER NOT NULL,
    paused_until INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- prefix is a CIDR in canonical form (address masked, e.g. 10.1.0.0/16); a
-- prefix belongs to one group, and the longest prefix holding the client wins.
CREATE TABLE IF NOT EXISTS sqlitefilter_group_clients (
    prefix     TEXT PRIMARY KEY NOT NULL,
    group_name TEXT NOT NULL REFERENCES sqlitefilter_groups (name) ON DELETE CASCADE
) WITHOUT ROWID;
