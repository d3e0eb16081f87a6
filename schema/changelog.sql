-- Change log for readers that keep an in-memory filter over the keys (the
-- plugin's Bloom filter). The plugin never writes, so the writer's own
-- transaction records every key that appears, through the triggers of the
-- layout (changelog_pertype.sql, changelog_normalized.sql); the plugin reads
-- the rows above the last id it has seen after each committed change.
-- Deletes need no entry: the filter may over-report.
--
-- The log keeps the last 100000 keys (up to 1023 more): every 1024th entry
-- trims what is older, which costs a bulk load ~0.5 µs per row where a trim
-- per row cost ~1.5 µs. A reader that finds entries gone that it never read
-- (a bulk load of more than that between two of its refreshes) rebuilds its
-- filter from the tables. AUTOINCREMENT keeps ids increasing even after
-- trims, which is how a reader tells a gap.
CREATE TABLE IF NOT EXISTS sqlitefilter_changes (
    id  INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS sqlitefilter_changes_trim AFTER INSERT ON sqlitefilter_changes
WHEN NEW.id % 1024 = 0 BEGIN
    DELETE FROM sqlitefilter_changes WHERE id <= NEW.id - 100000;
END;
