-- Answer addresses that block an answer (schema version 2), as records of
-- types block_ip_v4 and block_ip_v6 whose domains.domain is the address or
-- CIDR prefix; the legacy names are views with INSTEAD OF triggers, like the
-- other rule tables'.
CREATE VIEW IF NOT EXISTS block_ip_v4 (Address) AS
    SELECT d.domain FROM records r JOIN domains d ON d.domain_id = r.domain_id
    WHERE r.record_type = 'block_ip_v4';
CREATE TRIGGER IF NOT EXISTS block_ip_v4_insert INSTEAD OF INSERT ON block_ip_v4 BEGIN
    INSERT INTO domains (domain) SELECT NEW.Address
        WHERE NOT EXISTS (SELECT 1 FROM domains WHERE domain = NEW.Address);
    INSERT INTO records (domain_id, record_type)
        SELECT domain_id, 'block_ip_v4' FROM domains WHERE domain = NEW.Address;
END;
CREATE TRIGGER IF NOT EXISTS block_ip_v4_delete INSTEAD OF DELETE ON block_ip_v4 BEGIN
    DELETE FROM records WHERE record_type = 'block_ip_v4'
        AND domain_id = (SELECT domain_id FROM domains WHERE domain = OLD.Address);
    DELETE FROM domains WHERE domain = OLD.Address
        AND NOT EXISTS (SELECT 1 FROM records WHERE records.domain_id = domains.domain_id);
END;
CREATE TRIGGER IF NOT EXISTS block_ip_v4_update INSTEAD OF UPDATE ON block_ip_v4 BEGIN
    DELETE FROM block_ip_v4 WHERE Address = OLD.Address;
    INSERT INTO block_ip_v4 VALUES (NEW.Address);
END;

CREATE VIEW IF NOT EXISTS block_ip_v6 (Address) AS
    SELECT d.domain FROM records r JOIN domains d ON d.domain_id = r.domain_id
    WHERE r.record_type = 'block_ip_v6';
CREATE TRIGGER IF NOT EXISTS block_ip_v6_insert INSTEAD OF INSERT ON block_ip_v6 BEGIN
    INSERT INTO domains (domain) SELECT NEW.Address
        WHERE NOT EXISTS (SELECT 1 FROM domains WHERE domain = NEW.Address);
    INSERT INTO records (domain_id, record_type)
        SELECT domain_id, 'block_ip_v6' FROM domains WHERE domain = NEW.Address;
END;
CREATE TRIGGER IF NOT EXISTS block_ip_v6_delete INSTEAD OF DELETE ON block_ip_v6 BEGIN
    DELETE FROM records WHERE record_type = 'block_ip_v6'
        AND domain_id = (SELECT domain_id FROM domains WHERE domain = OLD.Address);
    DELETE FROM domains WHERE domain = OLD.Address
        AND NOT EXISTS (SELECT 1 FROM records WHERE records.domain_id = domains.domain_id);
END;
CREATE TRIGGER IF NOT EXISTS block_ip_v6_update INSTEAD OF UPDATE ON block_ip_v6 BEGIN
    DELETE FROM block_ip_v6 WHERE Address = OLD.Address;
    INSERT INTO block_ip_v6 VALUES (NEW.Address);
END;

INSERT OR REPLACE INTO sqlitefilter_meta (key, value) VALUES ('schema_version', '2');
