package policy_test

import (
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/sqlitefilter/sqlitefilter/plugin/sqlitefilter/policy"
)

// FuzzCanonical feeds the name functions two kinds of input: any string (what
// an operator may type, or a caller pass), and a name as a query carries it,
// decoded by miekg/dns from wire labels built out of the fuzzer's bytes, so
// that every byte value, escaped in presentation form, reaches them.
//
// For every string: no panic, the result is lower case, Canonical gives the
// same result for every 0x20 variation of the input, the Parent walk ends and
// each step is a shorter suffix of the one before, and what CanonicalTarget
// accepts is a valid name it accepts again unchanged. For a wire name,
// moreover: Canonical is idempotent, its result is a valid name, and the walk
// visits exactly one suffix per label.
func FuzzCanonical(f *testing.F) {
	f.Add("WwW.Example.COM.", []byte("\x03www\x07example\x03com"), uint64(0))
	f.Add(`a\..example.`, []byte("\x02a.\x07example"), uint64(5))
	f.Add(`trailing\.`, []byte("\x09trailing."), uint64(1))
	f.Add(`a\\.b.`, []byte("\x02a\\\x01b"), uint64(2))
	f.Add(`\065\.B.`, []byte("\x03\x00.B"), uint64(3))
	f.Add(".", []byte{}, uint64(0))
	f.Add("..", []byte{0}, uint64(0))
	f.Add("xn--bcher-kva.Example", []byte("\x0dxn--bcher-kva\x07Example"), ^uint64(0))
	f.Add(strings.Repeat("l.", 127)+"com", []byte(strings.Repeat("\x01l", 126)), uint64(7))
	f.Fuzz(func(t *testing.T, s string, wire []byte, flips uint64) {
		checkString(t, s, flips)
		if name, ok := wireName(wire); ok {
			checkString(t, name, flips)
			checkWireName(t, name)
		}
	})
}

func checkString(t *testing.T, s string, flips uint64) {
	c := policy.Canonical(s)
	if strings.ContainsAny(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		t.Fatalf("Canonical(%q) = %q: not lower case", s, c)
	}
	if got := policy.Canonical(flipCase(s, flips)); got != c {
		t.Fatalf("Canonical(%q) = %q but Canonical(%q) = %q: case changes the verdict", s, c, flipCase(s, flips), got)
	}
	if policy.ValidName(c) && policy.Canonical(c) != c {
		t.Fatalf("Canonical(%q) = %q, a valid name that Canonical changes again to %q", s, c, policy.Canonical(c))
	}
	walk(t, c)
	walk(t, s)
	if target, ok := policy.CanonicalTarget(s); ok {
		if target != c {
			t.Fatalf("CanonicalTarget(%q) = %q, Canonical gives %q", s, target, c)
		}
		if !policy.ValidName(target) {
			t.Fatalf("CanonicalTarget(%q) accepted %q, which is no valid name", s, target)
		}
		if again, ok := policy.CanonicalTarget(target); !ok || again != target {
			t.Fatalf("CanonicalTarget(%q) = %q, %v: not idempotent", target, again, ok)
		}
	}
}

// walk follows Parent from name: it must end within one step per byte, each
// step a strictly shorter suffix that starts right after a dot.
func walk(t *testing.T, name string) int {
	steps := 0
	for s := name; s != ""; {
		p, more := policy.Parent(s)
		if !more {
			break
		}
		if len(p) >= len(s) || !strings.HasSuffix(s, "."+p) {
			t.Fatalf("Parent(%q) = %q: not a shorter suffix after a dot (walking %q)", s, p, name)
		}
		if steps++; steps > len(name) {
			t.Fatalf("the Parent walk of %q does not end", name)
		}
		s = p
	}
	return steps
}

func checkWireName(t *testing.T, name string) {
	c := policy.Canonical(name)
	if policy.Canonical(c) != c {
		t.Fatalf("Canonical(%q) = %q, and again %q: not idempotent", name, c, policy.Canonical(c))
	}
	if name == "." {
		if c != "" {
			t.Fatalf("Canonical(\".\") = %q, want \"\"", c)
		}
		return
	}
	if !policy.ValidName(c) {
		t.Fatalf("the query name %q gives %q, which ValidName rejects", name, c)
	}
	if c+"." != lowerASCII(name) {
		t.Fatalf("Canonical(%q) = %q: more than the case and the root dot changed", name, c)
	}
	if got, want := walk(t, c)+1, dns.CountLabel(name); got != want {
		t.Fatalf("the Parent walk of %q has %d suffixes, the name %d labels", c, got, want)
	}
}

// wireName decodes wire-format labels made from b: each byte's low six bits
// give the next label's length, the bytes after it its content.
func wireName(b []byte) (string, bool) {
	var w []byte
	for i := 0; i < len(b); {
		n := int(b[i] & 0x3f)
		i++
		if n == 0 || i+n > len(b) {
			break
		}
		w = append(w, byte(n))
		w = append(w, b[i:i+n]...)
		i += n
	}
	w = append(w, 0)
	name, _, err := dns.UnpackDomainName(w, 0)
	return name, err == nil
}

// flipCase swaps the case of the ASCII letters whose position's bit is set
// in mask, as 0x20 randomisation does.
func flipCase(s string, mask uint64) string {
	b := []byte(s)
	for i, c := range b {
		if mask&(1<<(i%64)) == 0 {
			continue
		}
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
