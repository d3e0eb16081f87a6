package schema

// Table is one kind of rule, named after the per-type table that holds it.
type Table uint8

// The rule tables, in the order the decision consults them.
const (
	Allow         Table = iota // fqdn_dns_allow
	BlockExact                 // block_exact
	BlockWildcard              // block_wildcard
	BlockRegex                 // block_regex
	DNSBlock                   // fqdn_dns_block
	Alias                      // domain_alias
	RewriteV4                  // ip_rewrite_v4
	RewriteV6                  // ip_rewrite_v6
	BlockIPv4                  // block_ip_v4: answer addresses that block the answer
	BlockIPv6                  // block_ip_v6
)

// NumTables is the number of rule tables.
const NumTables = int(BlockIPv6) + 1

// Tables lists every rule table.
var Tables = []Table{Allow, BlockExact, BlockWildcard, BlockRegex, DNSBlock, Alias, RewriteV4, RewriteV6, BlockIPv4, BlockIPv6}

type tableInfo struct {
	name       string // per-type table (or legacy view) name
	key        string // key column
	target     string // target column, empty for key-only tables
	recordType string // records.record_type in the normalized layout
}

var tableInfos = [...]tableInfo{
	Allow:         {"fqdn_dns_allow", "Domain", "", "dns_allow"},
	BlockExact:    {"block_exact", "Domain", "", "block_exact"},
	BlockWildcard: {"block_wildcard", "Domain", "", "block_wildcard"},
	BlockRegex:    {"block_regex", "Pattern", "", "block_regex"},
	DNSBlock:      {"fqdn_dns_block", "Domain", "", "dns_block"},
	Alias:         {"domain_alias", "Source_Domain", "Target_Domain", "domain_alias"},
	RewriteV4:     {"ip_rewrite_v4", "Source_IPv4", "Target_IPv4", "ip_rewrite_v4"},
	RewriteV6:     {"ip_rewrite_v6", "Source_IPv6", "Target_IPv6", "ip_rewrite_v6"},
	BlockIPv4:     {"block_ip_v4", "Address", "", "block_ip_v4"},
	BlockIPv6:     {"block_ip_v6", "Address", "", "block_ip_v6"},
}

// Name is the table's SQL name.
func (t Table) Name() string { return tableInfos[t].name }

// String implements fmt.Stringer.
func (t Table) String() string { return t.Name() }

// KeyColumn is the column that holds the name, pattern or source address.
func (t Table) KeyColumn() string { return tableInfos[t].key }

// TargetColumn is the column that holds the alias target or target address,
// or "" for tables that only hold keys.
func (t Table) TargetColumn() string { return tableInfos[t].target }

// columns lists the key column and, for a table with targets, the target
// column, for SQL made from the table constants.
func (t Table) columns() string {
	if t.TargetColumn() == "" {
		return t.KeyColumn()
	}
	return t.KeyColumn() + ", " + t.TargetColumn()
}

// RecordType is the table's records.record_type in the normalized layout.
func (t Table) RecordType() string { return tableInfos[t].recordType }

// ParseTable returns the table with the given SQL name.
func ParseTable(name string) (Table, bool) {
	for _, t := range Tables {
		if t.Name() == name {
			return t, true
		}
	}
	return 0, false
}
