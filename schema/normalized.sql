-- Normalized layout (SPEC §2): every name, pattern or source address once in
-- `domains`, every rule a row of `records` pointing at it. The legacy table
-- names are views over the two tables, with INSTEAD OF triggers, so that
-- `INSERT INTO block_exact VALUES ('x.com')` and `DELETE FROM block_exact
-- WHERE Domain = 'x.com'` keep working.
--
-- Differences from the seed's NORMALIZED_SCHEMA.sql, each measured or needed
-- (schema/README.md):
--   * no CREATE UNIQUE INDEX on domains(domain): the UNIQUE constraint already
--     has its own index, the seed's second one stored every name a third time;
--   * UNIQUE (domain_id, record_type) instead of a plain index, so a re-import
--     never duplicates a rule;
--   * domain is compared BINARY, not NOCASE: rows are stored canonical (lower
--     case) anyway, and regex patterns are case-sensitive (`\d` and `\D` are
--     different patterns that NOCASE would make collide);
--   * timestamps are INTEGER unix seconds and left NULL unless a writer sets
--     them (a text CURRENT_TIMESTAMP cost 19 B per name).
CREATE TABLE IF NOT EXISTS domains (
    domain_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    domain        TEXT NOT NULL UNIQUE,
    created_at    INTEGER,
    last_accessed INTEGER,
    access_count  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS records (
    record_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    domain_id    INTEGER NOT NULL REFERENCES domains (domain_id) ON DELETE CASCADE,
    record_type  TEXT NOT NULL CHECK (record_type IN (
        'block_exact', 'block_regex', 'block_wildcard',
        'dns_allow', 'dns_block', 'domain_alias',
        'ip_rewrite_v4', 'ip_rewrite_v6',
        'block_ip_v4', 'block_ip_v6'
    )),
    target_value TEXT,
    priority     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (domain_id, record_type)
);

-- Legacy views. Each INSERT trigger adds the name to domains unless it is
-- there, then the rule; a duplicate rule fails on UNIQUE (domain_id,
-- record_type) exactly as the per-type table's primary key would, and
-- INSERT OR IGNORE / OR REPLACE on the view pass their policy on. Each DELETE
-- trigger removes the rule and then the name if no other rule uses it; an
-- UPDATE is a DELETE of the old row and an INSERT of the new one.

CREATE VIEW IF NOT EXISTS block_exact (Domain) AS
    SELECT d.domain FROM records r JOIN domains d ON d.domain_id = r.domain_id
    WHERE r.record_type = 'block_exact';
CREATE TRIGGER IF NOT EXISTS block_exact_insert INSTEAD OF INSERT ON block_exact BEGIN
    INSERT INTO domains (domain) SELECT NEW.Domain
        WHERE NOT EXISTS (SELECT 1 FROM domains WHERE domain = NEW.Domain);
    INSERT INTO records (domain_id, record_type)
        SELECT domain_id, 'block_exact' FROM domains WHERE domain = NEW.Domain;
END;
CREATE TRIGGER IF NOT EXISTS block_exact_delete INSTEAD OF DELETE ON block_exact BEGIN
    DELETE FROM records WHERE record_type = 'block_exact'
        AND domain_id = (SELECT domain_id FROM domains WHERE domain = OLD.Domain);
    DELETE FROM domains WHERE domain = OLD.Domain
        AND NOT EXISTS (SELECT 1 FROM records WHERE records.domain_id = domains.domain_id);
END;
CREATE TRIGGER IF NOT EXISTS block_exact_update INSTEAD OF UPDATE ON block_exact BEGIN
    DELETE FROM block_exact WHERE Domain = OLD.Domain;
    INSERT INTO block_exact VALUES (NEW.Domain);
END;

CREATE VIEW IF NOT EXISTS block_wildcard (Domain) AS
    SELECT d.domain FROM records r JOIN domains d ON d.domain_id = r.domain_id
    WHERE r.record_type = 'block_wildcard';
CREATE TRIGGER IF NOT EXISTS block_wildcard_insert INSTEAD OF INSERT ON block_wildcard BEGIN
    INSERT INTO domains (domain) SELECT NEW.Domain
        WHERE NOT EXISTS (SELECT 1 FROM domains WHERE domain = NEW.Domain);
    INSERT INTO records (domain_id, record_type)
        SELECT domain_id, 'block_wildcard' FROM domains WHERE domain = NEW.Domain;
END;
CREATE TRIGGER IF NOT EXISTS block_wildcard_delete INSTEAD OF DELETE ON block_wildcard BEGIN
    DELETE FROM records WHERE record_type = 'block_wildcard'
        AND domain_id = (SELECT domain_id FROM domains WHERE domain = OLD.Domain);
    DELETE FROM domains WHERE domain = OLD.Domain
        AND NOT EXISTS (SELECT 1 FROM records WHERE records.domain_id = domains.domain_id);
END;
CREATE TRIGGER IF NOT EXISTS block_wildcard_update INSTEAD OF UPDATE ON block_wildcard BEGIN
    DELETE FROM block_wildcard WHERE Domain = OLD.Domain;
    INSERT INTO block_wildcard VALUES (NEW.Domain);
END;

CREATE VIEW IF NOT EXISTS block_regex (Pattern) AS
    SELECT d.domain FROM records r JOIN domains d ON d.domain_id = r.domain_id
    WHERE r.record_type = 'block_regex';
CREATE TRIGGER IF NOT EXISTS block_regex_insert INSTEAD OF INSERT ON block_regex BEGIN
    INSERT INTO domains (domain) SELECT NEW.Pattern
        WHERE NOT EXISTS (SELECT 1 FROM domains WHERE domain = NEW.Pattern);
    INSERT INTO records (domain_id, record_type)
        SELECT domain_id, 'block_regex' FROM domains WHERE domain = NEW.Pattern;
END;
CREATE TRIGGER IF NOT EXISTS block_regex_delete INSTEAD OF DELETE ON block_regex BEGIN
    DELETE FROM records WHERE record_type = 'block_regex'
        AND domain_id = (SELECT domain_id FROM domains WHERE domain = OLD.Pattern);
    DELETE FROM domains WHERE domain = OLD.Pattern
        AND NOT EXISTS (SELECT 1 FROM records WHERE records.domain_id = domains.domain_id);
END;
CREATE TRIGGER IF NOT EXISTS block_regex_update INSTEAD OF UPDATE ON block_regex BEGIN
    DELETE FROM block_regex WHERE Pattern = OLD.Pattern;
    INSERT INTO block_regex VALUES (NEW.Pattern);
END;

CREATE VIEW IF NOT EXISTS fqdn_dns_allow (Domain) AS
    SELECT d.domain FROM records r JOIN domains d ON d.domain_id = r.domain_id
    WHERE r.record_type = 'dns_allow';
CREATE TRIGGER IF NOT EXISTS fqdn_dns_allow_insert INSTEAD OF INSERT ON fqdn_dns_allow BEGIN
    INSERT INTO domains (domain) SELECT NEW.Domain
        WHERE NOT EXISTS (SELECT 1 FROM domains WHERE domain = NEW.Domain);
    INSERT INTO records (domain_id, record_type)
        SELECT domain_id, 'dns_allow' FROM domains WHERE domain = NEW.Domain;
END;
CREATE TRIGGER IF NOT EXISTS fqdn_dns_allow_delete INSTEAD OF DELETE ON fqdn_dns_allow BEGIN
    DELETE FROM records WHERE record_type = 'dns_allow'
        AND domain_id = (SELECT domain_id FROM domains WHERE domain = OLD.Domain);
    DELETE FROM domains WHERE domain = OLD.Domain
        AND NOT EXISTS (SELECT 1 FROM records WHERE records.domain_id = domains.domain_id);
END;
CREATE TRIGGER IF NOT EXISTS fqdn_dns_allow_update INSTEAD OF UPDATE ON fqdn_dns_allow BEGIN
    DELETE FROM fqdn_dns_allow WHERE Domain = OLD.Domain;
    INSERT INTO fqdn_dns_allow VALUES (NEW.Domain);
END;

CREATE VIEW IF NOT EXISTS fqdn_dns_block (Domain) AS
    SELECT d.domain FROM records r JOIN domains d ON d.domain_id = r.domain_id
    WHERE r.record_type = 'dns_block';
CREATE TRIGGER IF NOT EXISTS fqdn_dns_block_insert INSTEAD OF INSERT ON fqdn_dns_block BEGIN
    INSERT INTO domains (domain) SELECT NEW.Domain
        WHERE NOT EXISTS (SELECT 1 FROM domains WHERE domain = NEW.Domain);
    INSERT INTO records (domain_id, record_type)
        SELECT domain_id, 'dns_block' FROM domains WHERE domain = NEW.Domain;
END;
CREATE TRIGGER IF NOT EXISTS fqdn_dns_block_delete INSTEAD OF DELETE ON fqdn_dns_block BEGIN
    DELETE FROM records WHERE record_type = 'dns_block'
        AND domain_id = (SELECT domain_id FROM domains WHERE domain = OLD.Domain);
    DELETE FROM domains WHERE domain = OLD.Domain
        AND NOT EXISTS (SELECT 1 FROM records WHERE records.domain_id = domains.domain_id);
END;
CREATE TRIGGER IF NOT EXISTS fqdn_dns_block_update INSTEAD OF UPDATE ON fqdn_dns_block BEGIN
    DELETE FROM fqdn_dns_block WHERE Domain = OLD.Domain;
    INSERT INTO fqdn_dns_block VALUES (NEW.Domain);
END;

CREATE VIEW IF NOT EXISTS domain_alias (Source_Domain, Target_Domain) AS
    SELECT d.domain, r.target_value FROM records r JOIN domains d ON d.domain_id = r.domain_id
    WHERE r.record_type = 'domain_alias';
CREATE TRIGGER IF NOT EXISTS domain_alias_insert INSTEAD OF INSERT ON domain_alias BEGIN
    SELECT RAISE(ABORT, 'NOT NULL constraint failed: domain_alias.Target_Domain') WHERE NEW.Target_Domain IS NULL;
    INSERT INTO domains (domain) SELECT NEW.Source_Domain
        WHERE NOT EXISTS (SELECT 1 FROM domains WHERE domain = NEW.Source_Domain);
    INSERT INTO records (domain_id, record_type, target_value)
        SELECT domain_id, 'domain_alias', NEW.Target_Domain FROM domains WHERE domain = NEW.Source_Domain;
END;
CREATE TRIGGER IF NOT EXISTS domain_alias_delete INSTEAD OF DELETE ON domain_alias BEGIN
    DELETE FROM records WHERE record_type = 'domain_alias'
        AND domain_id = (SELECT domain_id FROM domains WHERE domain = OLD.Source_Domain);
    DELETE FROM domains WHERE domain = OLD.Source_Domain
        AND NOT EXISTS (SELECT 1 FROM records WHERE records.domain_id = domains.domain_id);
END;
CREATE TRIGGER IF NOT EXISTS domain_alias_update INSTEAD OF UPDATE ON domain_alias BEGIN
    DELETE FROM domain_alias WHERE Source_Domain = OLD.Source_Domain;
    INSERT INTO domain_alias VALUES (NEW.Source_Domain, NEW.Target_Domain);
END;

CREATE VIEW IF NOT EXISTS ip_rewrite_v4 (Source_IPv4, Target_IPv4) AS
    SELECT d.domain, r.target_value FROM records r JOIN domains d ON d.domain_id = r.domain_id
    WHERE r.record_type = 'ip_rewrite_v4';
CREATE TRIGGER IF NOT EXISTS ip_rewrite_v4_insert INSTEAD OF INSERT ON ip_rewrite_v4 BEGIN
    SELECT RAISE(ABORT, 'NOT NULL constraint failed: ip_rewrite_v4.Target_IPv4') WHERE NEW.Target_IPv4 IS NULL;
    INSERT INTO domains (domain) SELECT NEW.Source_IPv4
        WHERE NOT EXISTS (SELECT 1 FROM domains WHERE domain = NEW.Source_IPv4);
    INSERT INTO records (domain_id, record_type, target_value)
        SELECT domain_id, 'ip_rewrite_v4', NEW.Target_IPv4 FROM domains WHERE domain = NEW.Source_IPv4;
END;
CREATE TRIGGER IF NOT EXISTS ip_rewrite_v4_delete INSTEAD OF DELETE ON ip_rewrite_v4 BEGIN
    DELETE FROM records WHERE record_type = 'ip_rewrite_v4'
        AND domain_id = (SELECT domain_id FROM domains WHERE domain = OLD.Source_IPv4);
    DELETE FROM domains WHERE domain = OLD.Source_IPv4
        AND NOT EXISTS (SELECT 1 FROM records WHERE records.domain_id = domains.domain_id);
END;
CREATE TRIGGER IF NOT EXISTS ip_rewrite_v4_update INSTEAD OF UPDATE ON ip_rewrite_v4 BEGIN
    DELETE FROM ip_rewrite_v4 WHERE Source_IPv4 = OLD.Source_IPv4;
    INSERT INTO ip_rewrite_v4 VALUES (NEW.Source_IPv4, NEW.Target_IPv4);
END;

CREATE VIEW IF NOT EXISTS ip_rewrite_v6 (Source_IPv6, Target_IPv6) AS
    SELECT d.domain, r.target_value FROM records r JOIN domains d ON d.domain_id = r.domain_id
    WHERE r.record_type = 'ip_rewrite_v6';
CREATE TRIGGER IF NOT EXISTS ip_rewrite_v6_insert INSTEAD OF INSERT ON ip_rewrite_v6 BEGIN
    SELECT RAISE(ABORT, 'NOT NULL constraint failed: ip_rewrite_v6.Target_IPv6') WHERE NEW.Target_IPv6 IS NULL;
    INSERT INTO domains (domain) SELECT NEW.Source_IPv6
        WHERE NOT EXISTS (SELECT 1 FROM domains WHERE domain = NEW.Source_IPv6);
    INSERT INTO records (domain_id, record_type, target_value)
        SELECT domain_id, 'ip_rewrite_v6', NEW.Target_IPv6 FROM domains WHERE domain = NEW.Source_IPv6;
END;
CREATE TRIGGER IF NOT EXISTS ip_rewrite_v6_delete INSTEAD OF DELETE ON ip_rewrite_v6 BEGIN
    DELETE FROM records WHERE record_type = 'ip_rewrite_v6'
        AND domain_id = (SELECT domain_id FROM domains WHERE domain = OLD.Source_IPv6);
    DELETE FROM domains WHERE domain = OLD.Source_IPv6
        AND NOT EXISTS (SELECT 1 FROM records WHERE records.domain_id = domains.domain_id);
END;
CREATE TRIGGER IF NOT EXISTS ip_rewrite_v6_update INSTEAD OF UPDATE ON ip_rewrite_v6 BEGIN
    DELETE FROM ip_rewrite_v6 WHERE Source_IPv6 = OLD.Source_IPv6;
    INSERT INTO ip_rewrite_v6 VALUES (NEW.Source_IPv6, NEW.Target_IPv6);
END;

CREATE TABLE IF NOT EXISTS sqlitefilter_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT OR REPLACE INTO sqlitefilter_meta (key, value) VALUES ('layout', 'normalized'), ('schema_version', '1');
