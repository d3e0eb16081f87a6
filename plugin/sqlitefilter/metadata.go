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
}

// Metadata implements metadata.Provider: {/sqlitefilter/action} is the action
// taken (allow, block, block_upstream, alias, pass, block_cname and block_ip
// when the answer was blocked, or error when the database could not be
// read) and {/sqlitefilter/rule} the table and row that
// decided it, e.g. "block_wildcard doubleclick.net". Both are "-" for a
// request sqlitefilter did not decide.
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
	return context.WithValue(ctx, decisionKey{}, d)
}

// record keeps the decision for the metadata labels, when the metadata plugin
// asked for them.
func record(ctx context.Context, v policy.Verdict, err error) {
	if d, ok := ctx.Value(decisionKey{}).(*decision); ok {
		d.verdict, d.err, d.decided = v, err, true
	}
}
