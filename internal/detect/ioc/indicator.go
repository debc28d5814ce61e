package ioc

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/rampart-ids/rampart/internal/signal"
)

// Type is the kind of an indicator.
type Type string

// Indicator types. A CIDR is an IP indicator whose prefix is shorter than the
// address length.
const (
	TypeIP     Type = "ip"
	TypeDomain Type = "domain"
	TypeURL    Type = "url"
	TypeMD5    Type = "md5"
	TypeSHA1   Type = "sha1"
	TypeSHA256 Type = "sha256"
)

// entityKind maps an indicator type to the signal entity kind.
func (t Type) entityKind() string {
	switch t {
	case TypeIP:
		return "ip"
	case TypeDomain:
		return "domain"
	case TypeURL:
		return "url"
	default:
		return "hash"
	}
}

// Limits on single values, so that one hostile line cannot bloat the tables.
const (
	maxValueLen  = 4096
	maxDomainLen = 253
)

// Indicator is one loaded indicator.
type Indicator struct {
	Type Type
	// Value is the normalized value (lower-case domain and hash, canonical
	// prefix, URL key without scheme).
	Value string
	// Original is the value as written in the list (refanged).
	Original string
	// Prefix is set for TypeIP.
	Prefix netip.Prefix
	// Source is the list name; RuleID is "ioc:"+Source.
	Source  string
	Level   signal.Level
	Version string // content hash of the file the indicator came from
	// STIX metadata, when the indicator came from a bundle.
	STIXID     string
	Name       string
	Labels     []string
	ValidUntil time.Time
	// AllOf holds the other terms of a STIX AND: the event must contain all
	// of them too.
	AllOf []Term
}

// Term is one typed, normalized value.
type Term struct {
	Type   Type
	Value  string
	Prefix netip.Prefix
	// Raw is the value as written, trimmed and refanged (URLs keep their scheme).
	Raw string
}

// typeAliases maps prefixes and CSV type names to types. "hash" and "" mean
// "detect from the value".
var typeAliases = map[string]Type{
	"ip": TypeIP, "ipv4": TypeIP, "ipv6": TypeIP, "cidr": TypeIP, "ip-src": TypeIP, "ip-dst": TypeIP,
	"ipv4-addr": TypeIP, "ipv6-addr": TypeIP, "net": TypeIP, "network": TypeIP,
	"domain": TypeDomain, "hostname": TypeDomain, "fqdn": TypeDomain, "host": TypeDomain, "domain-name": TypeDomain,
	"url": TypeURL, "uri": TypeURL, "link": TypeURL,
	"md5": TypeMD5, "sha1": TypeSHA1, "sha-1": TypeSHA1, "sha256": TypeSHA256, "sha-256": TypeSHA256,
	"filehash-md5": TypeMD5, "filehash-sha1": TypeSHA1, "filehash-sha256": TypeSHA256,
}

// parseTypeName resolves a type name; auto is true for "", "hash" and "auto".
func parseTypeName(s string) (t Type, auto bool, err error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "", "auto", "hash", "filehash":
		return "", true, nil
	}
	if t, ok := typeAliases[s]; ok {
		return t, false, nil
	}
	return "", false, fmt.Errorf("unknown indicator type %q", s)
}

// refang undoes common defanging ("hxxp", "[.]", "(.)", "[:]").
func refang(s string) string {
	if !strings.ContainsAny(s, "[(") && !strings.HasPrefix(strings.ToLower(s), "hxxp") {
		return s
	}
	r := strings.NewReplacer("[.]", ".", "(.)", ".", "{.}", ".", "[dot]", ".", "[:]", ":", "[://]", "://")
	s = r.Replace(s)
	if l := strings.ToLower(s); strings.HasPrefix(l, "hxxp") {
		s = "http" + s[4:]
	}
	return s
}

var errUndetectable = errors.New("cannot detect indicator type")

// detectType guesses the type of a value.
func detectType(v string) (Type, error) {
	if strings.Contains(v, "://") {
		return TypeURL, nil
	}
	if _, err := parsePrefix(v); err == nil {
		return TypeIP, nil
	}
	if isHex(v) {
		switch len(v) {
		case 32:
			return TypeMD5, nil
		case 40:
			return TypeSHA1, nil
		case 64:
			return TypeSHA256, nil
		}
	}
	if _, ok := normDomain(v); ok {
		return TypeDomain, nil
	}
	return "", errUndetectable
}

// newTerm normalizes v as type t (detecting the type when auto).
func newTerm(t Type, auto bool, v string) (Term, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return Term{}, errors.New("empty value")
	}
	if len(v) > maxValueLen {
		return Term{}, fmt.Errorf("value longer than %d bytes", maxValueLen)
	}
	v = refang(v)
	if auto {
		var err error
		if t, err = detectType(v); err != nil {
			return Term{}, fmt.Errorf("%w: %q", err, short(v))
		}
	}
	switch t {
	case TypeIP:
		p, err := parsePrefix(v)
		if err != nil {
			return Term{}, err
		}
		return Term{Type: t, Value: p.String(), Prefix: p, Raw: v}, nil
	case TypeDomain:
		d, ok := normDomain(v)
		if !ok {
			return Term{}, fmt.Errorf("invalid domain %q", short(v))
		}
		return Term{Type: t, Value: d, Raw: v}, nil
	case TypeURL:
		if !strings.Contains(v, "://") && !strings.HasPrefix(v, "/") {
			v = "http://" + v // typed as a URL but written without a scheme
		}
		k, ok := urlKey(v, "")
		if !ok {
			return Term{}, fmt.Errorf("invalid url %q", short(v))
		}
		return Term{Type: t, Value: k, Raw: v}, nil
	case TypeMD5, TypeSHA1, TypeSHA256:
		h := strings.ToLower(v)
		want := map[Type]int{TypeMD5: 32, TypeSHA1: 40, TypeSHA256: 64}[t]
		if len(h) != want || !isHex(h) {
			return Term{}, fmt.Errorf("invalid %s %q: want %d hex digits", t, short(v), want)
		}
		return Term{Type: t, Value: h, Raw: v}, nil
	}
	return Term{}, fmt.Errorf("unknown indicator type %q", t)
}

// parsePrefix reads an address or a CIDR, returning the masked prefix.
func parsePrefix(v string) (netip.Prefix, error) {
	if strings.IndexByte(v, '/') >= 0 {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid cidr %q", short(v))
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid ip %q", short(v))
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// normDomain lower-cases d, drops one trailing dot and checks it is a
// plausible DNS name with at least two labels.
func normDomain(d string) (string, bool) {
	d = strings.TrimSuffix(strings.ToLower(d), ".")
	if d == "" || len(d) > maxDomainLen || strings.IndexByte(d, '.') < 0 {
		return "", false
	}
	label := 0
	for i := 0; i < len(d); i++ {
		c := d[i]
		switch {
		case c == '.':
			if label == 0 || label > 63 {
				return "", false
			}
			label = 0
			continue
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return "", false
		}
		label++
	}
	if label == 0 || label > 63 {
		return "", false
	}
	// All-numeric last label means an address, not a name.
	last := d[strings.LastIndexByte(d, '.')+1:]
	if strings.Trim(last, "0123456789") == "" {
		return "", false
	}
	return d, true
}

// urlKey renders a URL as host+path[?query], lower-casing the host and
// dropping scheme, userinfo, default ports (80, 443) and fragment. When raw
// has no scheme and host is given, raw is taken as a path on host. It is
// hand-rolled (no net/url) because it runs on every event with a URL.
func urlKey(raw, host string) (string, bool) {
	raw = strings.TrimSpace(raw)
	var authority, rest string
	if i := strings.Index(raw, "://"); i >= 0 {
		if i == 0 {
			return "", false
		}
		authority = raw[i+3:]
		if j := strings.IndexAny(authority, "/?#"); j >= 0 {
			authority, rest = authority[:j], authority[j:]
		}
		if j := strings.LastIndexByte(authority, '@'); j >= 0 {
			authority = authority[j+1:]
		}
	} else {
		if host == "" || !strings.HasPrefix(raw, "/") {
			return "", false
		}
		authority, rest = host, raw
	}
	if authority == "" || strings.ContainsAny(authority, " \t\r\n/\\") {
		return "", false
	}
	authority = strings.TrimSuffix(strings.TrimSuffix(authority, ":80"), ":443")
	if j := strings.IndexByte(rest, '#'); j >= 0 {
		rest = rest[:j]
	}
	if rest == "" || rest[0] == '?' {
		rest = "/" + rest
	}
	if strings.HasSuffix(rest, "?") {
		rest = rest[:len(rest)-1]
	}
	return strings.ToLower(authority) + rest, true
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// short truncates a value for error messages.
func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
