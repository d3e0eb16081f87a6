-- Answer addresses that block an answer (schema version 2): each row is an
-- address or a CIDR prefix, of one family per table. The plugin holds both
-- tables in memory, like the address rewrites.
CREATE TABLE IF NOT EXISTS block_ip_v4 (Address TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS block_ip_v6 (Address TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
INSERT OR REPLACE INTO sqlitefilter_meta (key, value) VALUES ('schema_version', '2');
