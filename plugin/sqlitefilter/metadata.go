package sqlitefilter

import (
	"context"

	"github.com/coredns/coredns/plugin/metadata"
	"github.com/coredns/coredns/request"
	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
)

// decisionKey finds a request's decision in its context.
type decisionKey struct{}

// decision is what ServeDNS decided for one request, kept for the metadata
// labels, which the log and dnstap plugins read after the reply is written.
type decision struct {
	verdict policy.Verdict
	err     error
	decided bool
	list    string // the list of the row that decided
	group   string // the client's group; "" for a database without groups
}

// Metadata implements metadata.Provider: {/sqlitefilter/action} is the action
// taken (allow, block, block_upstream, alias, pass, block_cname and block_ip
// when the answer was blocked, or error when the database could not be
// read) and {/sqlitefilter/rule} the table and row that decided it, e.g.
// "block_wildcard doubleclick.net", {/sqlitefilter/list} the list of that
// row (the first by id when it is in several that apply; for block_cname
// and block_ip, of the row that blocked the answer) and
// {/sqlitefilter/group} the client's group. Each is "-" for a request
// sqlitefilter did not decide, and the list and rule for one no rule
// decided (pass); the group is "-" for a database without groups.
func (f *SQLiteFilter) Metadata(ctx context.Context, state request.Request) context.Context {
	d := new(decision)
	metadata.SetValueFunc(ctx, pluginName+"/action", func() string {
		switch {
		case !d.decided:
			return "-"
		case d.err != nil:
			return "error"
		}
		return d.verdict.Action.String()
	})
	metadata.SetValueFunc(ctx, pluginName+"/rule", func() string {
		if !d.decided || d.err != nil || d.verdict.Action == policy.ActionPass {
			return "-"
		}
		return d.verdict.Rule.String()
	})
	metadata.SetValueFunc(ctx, pluginName+"/list", func() string {
		if !d.decided || d.err != nil || d.list == "" {
			return "-"
		}
		return d.list
	})
	metadata.SetValueFunc(ctx, pluginName+"/group", func() string {
		if !d.decided || d.group == "" {
			return "-"
		}
		return d.group
	})
	return context.WithValue(ctx, decisionKey{}, d)
}

// listName is the name of the list that decided v (the first by id of the
// row's lists that applied); "" for a verdict of no row.
func listName(v policy.Verdict, ds *decideStats) string {
	if v.Action == policy.ActionPass || v.Lists == 0 {
		return ""
	}
	return ds.clients.ListName(v.Lists.First())
}

// record keeps the decision for the metadata labels, when the metadata plugin
// asked for them.
func record(ctx context.Context, v policy.Verdict, err error, ds *decideStats) {
	if d, ok := ctx.Value(decisionKey{}).(*decision); ok {
		d.verdict, d.err, d.decided = v, err, true
		d.list, d.group = listName(v, ds), ds.group
	}
}
