package policy

import "github.com/miekg/dns"

// Canonical returns name in the form rows are stored in: ASCII lower
// case, no trailing dot. Only ASCII is folded because names on the wire are
// ASCII (IDNs arrive as punycode), so a 0x20-randomised query gets exactly the
// verdict of its lower-case form.
func Canonical(name string) string {
	if n := len(name); n > 1 && name[n-1] == '.' && !escapedAt(name, n-1) {
		name = name[:n-1]
	} else if name == "." {
		return ""
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			return lowerASCII(name)
		}
	}
	return name
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

// Parent returns name without its first label, and false when name has no
// parent (a single label, or the empty root). A dot escaped in presentation
// form (`a\.b.example`) belongs to its label and is not a separator.
func Parent(name string) (string, bool) {
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '\\':
			i++ // skip the escaped byte; \DDD escapes hold no dot
		case '.':
			return name[i+1:], true
		}
	}
	return "", false
}

// escapedAt reports whether the byte at i is preceded by an odd number of
// backslashes, i.e. is escaped.
func escapedAt(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// ValidName reports whether a canonical name can be a query name: at least
// one label, no empty label, labels of at most 63 bytes and at most 255 bytes
// on the wire.
func ValidName(name string) bool {
	if name == "" || name[0] == '.' {
		return false
	}
	_, ok := dns.IsDomainName(name + ".")
	return ok
}

// CanonicalTarget returns a domain_alias target in canonical form, and false
// when it is not a host name: labels of letters, digits, '-' and '_', of 1 to
// 63 bytes, at most 253 bytes in all. The query name may hold any byte, but a
// target is typed by an operator, and a space or a stray character in it is a
// mistake to report, not a name to alias to.
func CanonicalTarget(target string) (string, bool) {
	t := Canonical(target)
	if t == "" || len(t) > 253 {
		return t, false
	}
	label := 0
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c == '.':
			if label == 0 {
				return t, false
			}
			label = 0
			continue
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return t, false
		}
		if label++; label > 63 {
			return t, false
		}
	}
	return t, label > 0
}
