package main

import (
	"reflect"
	"testing"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

func TestParseLines(t *testing.T) {
	bw, be, al := schema.BlockWildcard, schema.BlockExact, schema.Allow
	tests := []struct {
		format  format
		table   schema.Table
		line    string
		want    []entry
		skipped int
		invalid int
	}{
		{formatPlain, be, "ads.example.com", []entry{{be, "ads.example.com", ""}}, 0, 0},
		{formatPlain, be, "ads.example.com # tracker", []entry{{be, "ads.example.com", ""}}, 0, 0},
		{formatPlain, be, "# only a comment", nil, 0, 0},
		{formatPlain, be, "", nil, 0, 0},
		{formatPlain, be, "0.0.0.0 ads.example.com", nil, 0, 1},
		{formatHosts, be, "0.0.0.0 ads.example.com", []entry{{be, "ads.example.com", ""}}, 0, 0},
		{formatHosts, be, "127.0.0.1 a.example b.example # two", []entry{{be, "a.example", ""}, {be, "b.example", ""}}, 0, 0},
		{formatHosts, be, "127.0.0.1\tlocalhost", nil, 1, 0},
		{formatHosts, be, "::1 ip6-localhost ip6-loopback", nil, 2, 0},
		{formatHosts, be, "0.0.0.0 ok.example bad;name", []entry{{be, "ok.example", ""}}, 0, 1},
		{formatHosts, be, "notanip ads.example", nil, 0, 1},
		{formatAdblock, bw, "||ads.example.com^", []entry{{bw, "ads.example.com", ""}}, 0, 0},
		{formatAdblock, bw, "||ads.example.com^$important", []entry{{bw, "ads.example.com", ""}}, 0, 0},
		{formatAdblock, bw, "@@||good.example.com^", []entry{{al, "good.example.com", ""}}, 0, 0},
		{formatAdblock, bw, "! comment", nil, 0, 0},
		{formatAdblock, bw, "[Adblock Plus 2.0]", nil, 0, 0},
		{formatAdblock, bw, "example.com##.banner", nil, 1, 0},
		{formatAdblock, bw, "||ads.example.com^$third-party", nil, 1, 0},
		{formatAdblock, bw, "||ads.example.com/path^", nil, 1, 0},
		{formatAdblock, bw, "/banner/*/img^", nil, 1, 0},
		{formatDnsmasq, bw, "address=/ads.example.com/0.0.0.0", []entry{{bw, "ads.example.com", ""}}, 0, 0},
		{formatDnsmasq, bw, "address=/a.example/b.example/", []entry{{bw, "a.example", ""}, {bw, "b.example", ""}}, 0, 0},
		{formatDnsmasq, bw, "server=/corp.example/10.0.0.1", []entry{{al, "corp.example", ""}}, 0, 0},
		{formatDnsmasq, bw, "cache-size=1000", nil, 1, 0},
		{formatDnsmasq, bw, "address=ads.example", nil, 0, 1},
		{formatRegex, schema.BlockRegex, `^ad[0-9]+\.`, []entry{{schema.BlockRegex, `^ad[0-9]+\.`, ""}}, 0, 0},
		{formatRegex, schema.BlockRegex, `(`, nil, 0, 1},
		{formatCSV, schema.Alias, "Intel.com, keweon.center.", []entry{{schema.Alias, "intel.com", "keweon.center"}}, 0, 0},
		{formatCSV, schema.Alias, "Source_Domain,Target_Domain", nil, 1, 0},
		{formatCSV, schema.RewriteV6, "2001:db8:0::1,2001:db8::2", []entry{{schema.RewriteV6, "2001:db8::1", "2001:db8::2"}}, 0, 0},
		{formatCSV, schema.RewriteV4, "192.0.2.1", nil, 0, 1},
		{formatCSV, schema.RewriteV4, "192.0.2.1,2001:db8::2", nil, 0, 1},
	}
	for _, tt := range tests {
		p := parser{format: tt.format, table: tt.table}
		var o outcome
		p.parse(tt.line, &o)
		skipped, invalid := 0, 0
		for _, pr := range o.problems {
			if pr.skipped {
				skipped++
			} else {
				invalid++
			}
		}
		if len(o.entries) == 0 {
			o.entries = nil
		}
		if !reflect.DeepEqual(o.entries, tt.want) || skipped != tt.skipped || invalid != tt.invalid {
			t.Errorf("%s %q: entries %v, skipped %d, invalid %d (%v); want %v, %d, %d",
				tt.format, tt.line, o.entries, skipped, invalid, o.problems, tt.want, tt.skipped, tt.invalid)
		}
	}
}

func TestSniffFormat(t *testing.T) {
	tests := []struct {
		head []string
		want format
	}{
		{[]string{"# hosts", "127.0.0.1 localhost", "0.0.0.0 ads.example"}, formatHosts},
		{[]string{"! Title: list", "||ads.example^"}, formatAdblock},
		{[]string{"address=/ads.example/0.0.0.0"}, formatDnsmasq},
		{[]string{"", "ads.example"}, formatPlain},
		{nil, formatPlain},
	}
	for _, tt := range tests {
		if got := sniff(tt.head); got != tt.want {
			t.Errorf("sniff(%q) = %s, want %s", tt.head, got, tt.want)
		}
	}
}
