package sqlitefilter

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/caddy/caddyfile"
	"github.com/coredns/coredns/core/dnsserver"
)

var corefileFence = regexp.MustCompile("(?s)(?:~~~|```) ?corefile\n(.*?)(?:~~~|```)")

// TestREADMEExamplesParse parses every corefile example of README.md as a
// Corefile, and its sqlitefilter stanza with the plugin's own parser.
func TestREADMEExamplesParse(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	fences := corefileFence.FindAllStringSubmatch(string(readme), -1)
	if len(fences) < 3 {
		t.Fatalf("found %d corefile examples, want at least 3", len(fences))
	}
	directives := append(slices.Clone(dnsserver.Directives), pluginName)
	for _, f := range fences {
		blocks, err := caddyfile.Parse("README.md", strings.NewReader(f[1]), directives)
		if err != nil {
			t.Errorf("example does not parse: %v\n%s", err, f[1])
			continue
		}
		n := 0
		for _, b := range blocks {
			if toks := b.Tokens[pluginName]; len(toks) > 0 {
				n++
				if _, err := parse(caddy.NewTestController("dns", stanza(toks))); err != nil {
					t.Errorf("sqlitefilter stanza does not parse: %v\n%s", err, f[1])
				}
			}
		}
		if n == 0 {
			t.Errorf("example has no sqlitefilter stanza:\n%s", f[1])
		}
	}
}

// stanza turns a directive's tokens back into Corefile text, a line per
// source line.
func stanza(toks []caddyfile.Token) string {
	var b strings.Builder
	for i, tok := range toks {
		if i > 0 {
			if tok.Line != toks[i-1].Line {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(tok.Text)
	}
	return b.String()
}

// TestREADMESyntaxListsEveryOption: each option of the Syntax section parses
// with a sample value, and every option with a sample is in the Syntax
// section (a new option needs a sample here and a line there).
func TestREADMESyntaxListsEveryOption(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	syntax := regexp.MustCompile("(?s)~~~ txt\n(sqlitefilter PATH\\.\\.\\. \\{.*?\\})\n~~~").FindStringSubmatch(string(readme))
	if syntax == nil {
		t.Fatal("no Syntax block")
	}
	samples := map[string]string{
		"pool": "4", "refresh": "2s", "busy_timeout": "1s", "block_response": "nodata", "block_ipv4": "192.0.2.1",
		"block_ipv6": "2001:db8::1", "block_ttl": "30", "allow_upstream": "127.0.0.1", "block_upstream": "127.0.0.1:5353",
		"regex_max": "10", "rewrite_max": "10", "on_error": "fail_open", "cache_size": "1000", "bloom_max_memory": "64M", "shards": "1",
		"trusted_forwarders": "127.0.0.1/32 ::1", "block_ip_max": "10", "answer_check": "off",
	}
	var listed []string
	for _, line := range strings.Split(syntax[1], "\n")[1:] {
		if f := strings.Fields(line); len(f) > 0 && f[0] != "}" {
			listed = append(listed, f[0])
		}
	}
	for opt := range samples {
		if !slices.Contains(listed, opt) {
			t.Errorf("option %s is not in the README's Syntax", opt)
		}
	}
	for _, opt := range listed {
		v, ok := samples[opt]
		if !ok {
			t.Errorf("README lists %s, which this test does not know", opt)
			continue
		}
		if _, err := parse(caddy.NewTestController("dns", "sqlitefilter a.db {\n"+opt+" "+v+"\n}")); err != nil {
			t.Errorf("%s %s: %v", opt, v, err)
		}
	}
}
