package policy

import "github.com/sqlitefilter/sqlitefilter/schema"

// CheckChain decides the names an answer leads through, the CNAME and DNAME
// owners and targets and the SVCB/HTTPS target names, for a query whose
// verdict is v and whose canonical name is qname. Each name is decided by
// steps 1–3 alone (Own of its verdict, which decide returns: Decide, or a
// cache in front of it), in the order given; the query name and the names
// of v's alias chain, decided already, are not decided again.
//
// The first name that is blocked (step 2) or sent to the block upstream
// (step 3) gives an ActionBlockCNAME verdict naming it and its rule; the
// caller answers it as blocked, or, for a Rule of fqdn_dns_block when a
// block upstream is configured, asks the block upstream for the query. An
// allowed name is not blocked, and neither is any name when v does not
// check its answer (ChecksAnswer). Otherwise v is returned as it is.
func CheckChain(decide func(name string) (Verdict, error), v Verdict, qname string, names []string) (Verdict, error) {
	if !v.ChecksAnswer() {
		return v, nil
	}
	for _, n := range names {
		if n == "" || n == qname || visited(v.Aliases, n) {
			continue
		}
		nv, err := decide(n)
		if err != nil {
			return Verdict{}, err
		}
		switch a, rule := nv.Own(); a {
		case ActionBlock, ActionBlockUpstream:
			return Verdict{Action: ActionBlockCNAME, Rule: rule, Answer: n, Aliases: v.Aliases, Target: v.Target, Lists: nv.Lists}, nil
		}
	}
	return v, nil
}

// BlockIP is the verdict for a query decided as v whose answer holds addr,
// inside the row of table t (block_ip_v4 or block_ip_v6) that is in lists
// (those of the row that apply to the client); v itself when it does not
// check its answer.
func BlockIP(v Verdict, t schema.Table, row, addr string, lists Lists) Verdict {
	if !v.ChecksAnswer() {
		return v
	}
	return Verdict{Action: ActionBlockIP, Rule: Rule{t, row}, Answer: addr, Aliases: v.Aliases, Target: v.Target, Lists: lists}
}
