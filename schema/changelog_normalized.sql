-- Normalized layout: every key the decision probes is a row of domains (a
-- name, also for rules of other types), so a new or renamed domain is what
-- the change log records; a record added for a domain already there adds no
-- key.
CREATE TRIGGER IF NOT EXISTS sqlitefilter_changes_ins_domains AFTER INSERT ON domains BEGIN
    INSERT INTO sqlitefilter_changes(key) VALUES (NEW.domain);
END;
CREATE TRIGGER IF NOT EXISTS sqlitefilter_changes_upd_domains AFTER UPDATE OF domain ON domains BEGIN
    INSERT INTO sqlitefilter_changes(key) VALUES (NEW.domain);
END;
