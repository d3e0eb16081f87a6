package main

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/sqlitefilter/sqlitefilter/schema"
)

// Limits of a DNS name in presentation form (RFC 1035 §2.3.4): 253
// characters without the trailing dot, 63 per label.
const (
	maxNameLen  = 253
	maxLabelLen = 63
)

// idnaProfile maps Unicode names to punycode the way a resolver's stub does
// before a name goes on the wire (UTS #46 lookup, non-transitional).
var idnaProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false))

// canonicalName returns s in the form rows are stored in: trimmed,
// ASCII lower case, no trailing dot, Unicode as punycode. It rejects what is
// not a host name: empty labels, labels over 63 or names over 253
// characters, and characters other than letters, digits, '-' and '_' (the
// underscore appears in real names such as _dmarc).
func canonicalName(s string) (string, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", errors.New("empty name")
	}
	if !isASCII(s) {
		if !utf8.ValidString(s) {
			return "", errors.New("not UTF-8")
		}
		a, err := idnaProfile.ToASCII(s)
		if err != nil {
			return "", fmt.Errorf("not a valid international name: %w", err)
		}
		s = a
	}
	if len(s) > maxNameLen {
		return "", fmt.Errorf("name is %d characters long, the limit is %d", len(s), maxNameLen)
	}
	lower := true
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if err := checkLabel(s, i-label, i); err != nil {
				return "", err
			}
			label = 0
			continue
		case 'A' <= c && c <= 'Z':
			lower = false
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return "", fmt.Errorf("character %q is not allowed in a name", c)
		}
		label++
	}
	if err := checkLabel(s, len(s)-label, len(s)); err != nil {
		return "", err
	}
	if !lower {
		s = strings.ToLower(s)
	}
	return s, nil
}

func checkLabel(s string, start, end int) error {
	switch n := end - start; {
	case n == 0:
		return errors.New("empty label")
	case n > maxLabelLen:
		return fmt.Errorf("label %q is %d characters long, the limit is %d", s[start:end], n, maxLabelLen)
	case s[start] == '-' || s[end-1] == '-':
		return fmt.Errorf("label %q starts or ends with '-'", s[start:end])
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// canonicalAddr parses an address of the given family (4 or 6) and returns
// its canonical text (RFC 5952 for IPv6), so rows compare equal however they
// were written. The family is the plugin's: an IPv4-mapped IPv6 address
// belongs to ip_rewrite_v6.
func canonicalAddr(s string, family int) (string, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return "", err
	}
	if a.Zone() != "" {
		return "", fmt.Errorf("address %s has a zone", s)
	}
	if a.Is4() != (family == 4) {
		return "", fmt.Errorf("%s is not an IPv%d address", s, family)
	}
	return a.String(), nil
}

// canonicalSource is canonicalAddr for the source of a rewrite row or a
// block_ip row, which may also be a prefix (10.0.0.0/8): stored masked, and a one-address prefix
// as the address, as the plugin reads it.
func canonicalSource(s string, family int) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		return canonicalAddr(s, family)
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return "", err
	}
	if p.Addr().Is4() != (family == 4) {
		return "", fmt.Errorf("%s is not an IPv%d prefix", s, family)
	}
	if p.IsSingleIP() {
		return p.Addr().String(), nil
	}
	return p.Masked().String(), nil
}

// canonicalKey returns a key of table t in stored form: a canonical name, a
// pattern that compiles (kept as written: patterns are case-sensitive), or a
// canonical address.
func canonicalKey(t schema.Table, key string) (string, error) {
	switch t {
	case schema.BlockRegex:
		if _, err := regexp.Compile(key); err != nil {
			return "", err
		}
		return key, nil
	case schema.RewriteV4, schema.BlockIPv4:
		return canonicalSource(key, 4)
	case schema.RewriteV6, schema.BlockIPv6:
		return canonicalSource(key, 6)
	default:
		return canonicalName(key)
	}
}

// canonicalTarget returns the target of a row of t in stored form.
func canonicalTarget(t schema.Table, target string) (string, error) {
	switch t {
	case schema.Alias:
		return canonicalName(target)
	case schema.RewriteV4:
		return canonicalAddr(target, 4)
	case schema.RewriteV6:
		return canonicalAddr(target, 6)
	}
	return "", nil
}
