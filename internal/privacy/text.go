package privacy

import (
	"net/netip"
	"slices"
	"strings"
)

// knownValue is a personal value of the event being pseudonymized, matched
// in free text ASCII-case-insensitively and only as a whole token, so that
// a user named "system" does not turn "system32" into "u_…32".
type knownValue struct {
	lower string // asciiLower(original)
	ps    string
}

func addKnown(kv []knownValue, orig, ps string) []knownValue {
	if len(orig) < minTextValue {
		return kv
	}
	l := asciiLower(orig)
	for _, k := range kv {
		if k.lower == l {
			return kv
		}
	}
	return append(kv, knownValue{lower: l, ps: ps})
}

// sortKnown orders longest first so "alice.smith" wins over "alice".
func sortKnown(kv []knownValue) []knownValue {
	slices.SortStableFunc(kv, func(a, b knownValue) int { return len(b.lower) - len(a.lower) })
	return kv
}

// asciiLower lowers ASCII letters only, keeping byte offsets aligned with
// the input (strings.ToLower can change the length of non-ASCII text).
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// isWord reports whether c continues a token. Bytes of non-ASCII runes
// count as word bytes: they are letters more often than not.
func isWord(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c >= 0x80
}

// replaceTokens replaces whole-token occurrences of known values by their
// pseudonyms. kv must be sorted longest first.
func replaceTokens(t string, kv []knownValue) string {
	lt := asciiLower(t)
	var cand []knownValue
	for _, k := range kv {
		if strings.Contains(lt, k.lower) {
			cand = append(cand, k)
		}
	}
	if len(cand) == 0 {
		return t
	}
	var b strings.Builder
	b.Grow(len(t))
	last := 0 // t[last:i] is pending output
	for i := 0; i < len(t); {
		matched := false
		if i == 0 || !isWord(t[i-1]) || !isWord(t[i]) {
			for _, k := range cand {
				n := len(k.lower)
				if !strings.HasPrefix(lt[i:], k.lower) {
					continue
				}
				if e := i + n; e < len(t) && isWord(t[e]) && isWord(t[e-1]) {
					continue
				}
				b.WriteString(t[last:i])
				b.WriteString(k.ps)
				i += n
				last, matched = i, true
				break
			}
		}
		if !matched {
			i++
		}
	}
	if last == 0 {
		return t
	}
	b.WriteString(t[last:])
	return b.String()
}

// firstWord is the leading run of word bytes of s.
func firstWord(s string) string {
	i := 0
	for i < len(s) && isWord(s[i]) {
		i++
	}
	return s[:i]
}

// replaceIndexed is replaceTokens over many known values, indexed by their
// first word: at each word start only the values beginning with that word
// are tried.
func replaceIndexed(t string, idx map[string][]knownValue) string {
	if len(idx) == 0 {
		return t
	}
	lt := asciiLower(t)
	var b strings.Builder
	last := 0
	for i := 0; i < len(t); {
		if !isWord(t[i]) || (i > 0 && isWord(t[i-1])) {
			i++
			continue
		}
		w := i
		for w < len(t) && isWord(t[w]) {
			w++
		}
		matched := false
		for _, k := range idx[lt[i:w]] {
			if !strings.HasPrefix(lt[i:], k.lower) {
				continue
			}
			if e := i + len(k.lower); e < len(t) && isWord(t[e]) && isWord(t[e-1]) {
				continue
			}
			if b.Len() == 0 {
				b.Grow(len(t) + 16)
			}
			b.WriteString(t[last:i])
			b.WriteString(k.ps)
			i += len(k.lower)
			last, matched = i, true
			break
		}
		if !matched {
			i = w
		}
	}
	if last == 0 {
		return t
	}
	b.WriteString(t[last:])
	return b.String()
}

// addrByte reports whether c can be part of a textual address.
func addrByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '.' || c == ':'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// replaceAddrs calls f on every IPv4 or IPv6 address written in t and
// substitutes its result. It scans maximal runs of address bytes: a run
// with two or more colons that parses as IPv6 is one address; otherwise
// every dotted quad inside the run (not glued to further digits) is one.
// A hand-written scanner: regexp was 70% of the pseudonymization time.
func replaceAddrs(t string, f func(string) string) string {
	var b strings.Builder
	last := 0
	emit := func(s, e int) {
		if r := f(t[s:e]); r != t[s:e] {
			if b.Len() == 0 {
				b.Grow(len(t) + 16)
			}
			b.WriteString(t[last:s])
			b.WriteString(r)
			last = e
		}
	}
	for i := 0; i < len(t); {
		if !addrByte(t[i]) {
			i++
			continue
		}
		s := i
		colons, dots := 0, 0
		for i < len(t) && addrByte(t[i]) {
			switch t[i] {
			case ':':
				colons++
			case '.':
				dots++
			}
			i++
		}
		if colons >= 2 {
			e := i
			for e > s && t[e-1] == '.' { // sentence punctuation
				e--
			}
			if _, err := netip.ParseAddr(t[s:e]); err == nil {
				emit(s, e)
				continue
			}
		}
		if dots < 3 {
			continue
		}
		for j := s; j < i; j++ {
			if !isDigit(t[j]) || j > s && isDigit(t[j-1]) {
				continue
			}
			if e := dottedQuad(t, j, i); e > 0 {
				emit(j, e)
				j = e
			}
		}
	}
	if last == 0 {
		return t
	}
	b.WriteString(t[last:])
	return b.String()
}

// dottedQuad returns the end of a d{1,3}(.d{1,3}){3} starting at j (and
// ending before limit, not followed by a digit), or 0.
func dottedQuad(t string, j, limit int) int {
	k := j
	for g := 0; g < 4; g++ {
		n := 0
		for k < limit && isDigit(t[k]) && n < 4 {
			k++
			n++
		}
		if n == 0 || n > 3 {
			return 0
		}
		if g < 3 {
			if k >= limit || t[k] != '.' {
				return 0
			}
			k++
		}
	}
	if _, err := netip.ParseAddr(t[j:k]); err != nil {
		return 0
	}
	return k
}
