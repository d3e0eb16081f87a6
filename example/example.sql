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
