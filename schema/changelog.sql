-- Change log for readers that keep an in-memory filter over the keys (the
-- plugin's Bloom filter). The plugin never writes, so the writer's own
-- transaction records every key that appears, through these triggers; the
-- plugin reads the rows above the last id it has seen after each committed
-- change. Deletes need no entry: the filter may over-report.
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
CREATE TRIGGER IF NOT EXISTS sqlitefilter_changes_ins_fqdn_dns_allow AFTER INSERT ON fqdn_dns_allow BEGIN
    INSERT INTO sqlitefilter_changes(key) VALUES (NEW.Domain);
END;
CREATE TRIGGER IF NOT EXISTS sqlitefilter_changes_upd_fqdn_dns_allow AFTER UPDATE OF Domain ON fqdn_dns_allow BEGIN
    INSERT INTO sqlitefilter_changes(key) VALUES (NEW.Domain);
END;
CREATE TRIGGER IF NOT EXISTS sqlitefilter_changes_ins_block_exact AFTER INSERT ON block_exact BEGIN
    INSERT INTO sqlitefilter_changes(key) VALUES (NEW.Domain);
END;
CREATE TRIGGER IF NOT EXISTS sqlitefilter_changes_upd_block_exact AFTER UPDATE OF Domain ON block_exact BEGIN
    INSERT INTO sqlitefilter_changes(key) VALUES (NEW.Domain);
END;
CREATE TRIGGER IF NOT EXISTS sqlitefilter_changes_ins_block_wildcard AFTER INSERT ON block_wildcard BEGIN
    INSERT INTO sqlitefilter_changes(key) VALUES (NEW.Domain);
END;
CREATE TRIGGER IF NOT EXISTS sqlitefilter_changes_upd_block_wildcard AFTER UPDATE OF Domain ON block_wildcard BEGIN
    INSERT INTO sqlitefilter_changes(key) VALUES (NEW.Domain);
END;
CREATE TRIGGER IF NOT EXISTS sqlitefilter_changes_ins_fqdn_dns_block AFTER INSERT ON fqdn_dns_block BEGIN
    INSERT INTO sqlitefilter_changes(key) VALUES (NEW.Domain);
END;
CREATE TRIGGER IF NOT EXISTS sqlitefilter_changes_upd_fqdn_dns_block AFTER UPDATE OF Domain ON fqdn_dns_block BEGIN
    INSERT INTO sqlitefilter_changes(key) VALUES (NEW.Domain);
END;
CREATE TRIGGER IF NOT EXISTS sqlitefilter_changes_ins_domain_alias AFTER INSERT ON domain_alias BEGIN
    INSERT INTO sqlitefilter_changes(key) VALUES (NEW.Source_Domain);
END;
CREATE TRIGGER IF NOT EXISTS sqlitefilter_changes_upd_domain_alias AFTER UPDATE OF Source_Domain ON domain_alias BEGIN
    INSERT INTO sqlitefilter_changes(key) VALUES (NEW.Source_Domain);
END;
