-- Rows of the example database that `make run` builds (see README.md).
-- Names are stored canonical: lower case, no trailing dot.
INSERT INTO block_exact (Domain) VALUES
    ('ads.example.com'),
    ('tracker.example.net');
INSERT INTO block_wildcard (Domain) VALUES
    ('doubleclick.net'),
    ('adservice.example.org');
INSERT INTO fqdn_dns_allow (Domain) VALUES
    ('good.doubleclick.net');
INSERT INTO block_regex (Pattern) VALUES
    ('^ads?[0-9]*\.');
INSERT INTO domain_alias (Source_Domain, Target_Domain) VALUES
    ('old.example.com', 'www.example.com');
INSERT INTO ip_rewrite_v4 (Source_IPv4, Target_IPv4) VALUES
    ('192.0.2.66', '192.0.2.1');
