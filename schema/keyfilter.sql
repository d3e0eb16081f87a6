-- A key filter stored with the data (written by `sqlitefilter keyfilter`
-- and by the bulk commands), so that a server opening the file reads it in
-- a moment instead of scanning every key. It is tied to the data by the
-- change log (changelog.sql): it holds the keys up to change_id, and a
-- reader uses it only while the schema is still schema_version and the log
-- still holds every entry after change_id, which it adds. Anything else,
-- and the reader builds its filter from the tables: a stale one is never
-- used.
CREATE TABLE IF NOT EXISTS sqlitefilter_keyfilter (
    format         INTEGER NOT NULL, -- 1: split-block Bloom filter, XXH64 of the key XOR seed
    seed           INTEGER NOT NULL,
    blocks         INTEGER NOT NULL, -- of 32 bytes
    keys           INTEGER NOT NULL, -- keys added
    change_id      INTEGER NOT NULL, -- last change-log id it holds
    schema_version INTEGER NOT NULL  -- PRAGMA schema_version it was written under
);
-- The filter's bytes, in parts of at most 1 MiB, little-endian 32-bit words.
CREATE TABLE IF NOT EXISTS sqlitefilter_keyfilter_bits (
    part INTEGER PRIMARY KEY,
    data BLOB NOT NULL
);
