-- Per-type layout: the key of every row inserted into (or changed in) a
-- table the decision probes by equality goes to the change log.
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
