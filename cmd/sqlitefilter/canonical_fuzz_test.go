package main

import (
	"strings"
	"testing"
)

// FuzzCanonicalName: for any input, canonicalName does not panic, gives an
// error with a message or a name that is lower case, without a trailing dot,
// within the length limits, and that canonicalName returns unchanged.
func FuzzCanonicalName(f *testing.F) {
	for _, s := range []string{
		"Ads.Example.COM.", "  padded.example \t", "bücher.example", "BÜCHER.example", "_dmarc.example.com",
		"a..b.example", ".", "", "*.example.com", "-lead.example", "nul\x00byte.example", "\xff\xfe.example",
		"ａｂｃ.example", "a。b", "xn--bcher-kva.example", "xn--.example", strings.Repeat("a.", 127) + "a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := canonicalName(in)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("canonicalName(%q): an error without a message", in)
			}
			return
		}
		if got == "" || got != strings.ToLower(got) || strings.HasSuffix(got, ".") || len(got) > maxNameLen {
			t.Fatalf("canonicalName(%q) = %q: not a canonical name", in, got)
		}
		again, err := canonicalName(got)
		if err != nil || again != got {
			t.Fatalf("canonicalName(%q) = %q, but canonicalName(%q) = %q, %v", in, got, got, again, err)
		}
	})
}
