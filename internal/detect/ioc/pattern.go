package ioc

import (
	"errors"
	"fmt"
	"strings"
)

// Pattern parser limits.
const (
	maxPatternLen   = 64 << 10
	maxPatternDepth = 64
	maxConjunctions = 1024
)

// conj is one supported AND of terms on the same STIX object type.
type conj struct {
	objType string
	terms   []Term
}

// Pattern is the supported part of a STIX pattern: an OR of Conjunctions
// (each an AND of terms on one object), plus the reasons branches were
// skipped.
type Pattern struct {
	Conjunctions [][]Term
	Skipped      []string
}

// ParsePattern parses a STIX 2.1 pattern. A syntax error is returned as an
// error; unsupported but well-formed parts are listed in Pattern.Skipped.
func ParsePattern(s string) (Pattern, error) {
	if len(s) > maxPatternLen {
		return Pattern{}, fmt.Errorf("pattern longer than %d bytes", maxPatternLen)
	}
	p := &pparser{s: s}
	n, err := p.obsOr()
	if err != nil {
		return Pattern{}, err
	}
	p.ws()
	if p.i < len(p.s) {
		return Pattern{}, p.errf("unexpected %q", p.rest())
	}
	cs, skipped := dnf(n)
	var out Pattern
	out.Skipped = skipped
	for _, c := range cs {
		out.Conjunctions = append(out.Conjunctions, c.terms)
	}
	return out, nil
}

type nodeKind uint8

const (
	nOr nodeKind = iota
	nAnd
	nCmp
	nUnsup
)

type node struct {
	kind    nodeKind
	kids    []*node
	objType string // nCmp
	terms   []Term // nCmp: alternatives (IN gives several)
	reason  string // nUnsup
}

func unsup(format string, a ...any) *node {
	return &node{kind: nUnsup, reason: fmt.Sprintf(format, a...)}
}

type pparser struct {
	s     string
	i     int
	depth int
}

func (p *pparser) errf(format string, a ...any) error {
	return fmt.Errorf("pattern syntax error at offset %d: %s", p.i, fmt.Sprintf(format, a...))
}

func (p *pparser) rest() string { return short(p.s[p.i:]) }

func (p *pparser) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func isWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// keyword consumes kw (case-insensitive, whole word) if it is next.
func (p *pparser) keyword(kw string) bool {
	p.ws()
	end := p.i + len(kw)
	if end > len(p.s) || !strings.EqualFold(p.s[p.i:end], kw) || end < len(p.s) && isWordChar(p.s[end]) {
		return false
	}
	p.i = end
	return true
}

func (p *pparser) char(c byte) bool {
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *pparser) enter() error {
	p.depth++
	if p.depth > maxPatternDepth {
		return p.errf("nesting deeper than %d", maxPatternDepth)
	}
	return nil
}

// joined parses next (KEYWORD next)* into one node of kind, or the single
// operand when the keyword does not follow.
func (p *pparser) joined(kind nodeKind, keyword string, next func() (*node, error)) (*node, error) {
	first, err := next()
	if err != nil {
		return nil, err
	}
	n := &node{kind: kind, kids: []*node{first}}
	for p.keyword(keyword) {
		k, err := next()
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, k)
	}
	if len(n.kids) == 1 {
		return first, nil
	}
	return n, nil
}

// obsOr: obsAnd (OR obsAnd)*
func (p *pparser) obsOr() (*node, error) { return p.joined(nOr, "OR", p.obsAnd) }

// obsAnd: obsQualified ((AND|FOLLOWEDBY) obsQualified)*. Joining observations
// needs correlation across events, which this detector does not do.
func (p *pparser) obsAnd() (*node, error) {
	first, err := p.obsQualified()
	if err != nil {
		return nil, err
	}
	n := first
	for {
		var op string
		switch {
		case p.keyword("AND"):
			op = "AND"
		case p.keyword("FOLLOWEDBY"):
			op = "FOLLOWEDBY"
		default:
			return n, nil
		}
		if _, err := p.obsQualified(); err != nil {
			return nil, err
		}
		n = unsup("observation %s", op)
	}
}

// obsQualified: ( '[' comparison ']' | '(' obsOr ')' ) qualifier*
func (p *pparser) obsQualified() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	var n *node
	switch {
	case p.char('['):
		c, err := p.cmpOr()
		if err != nil {
			return nil, err
		}
		if !p.char(']') {
			return nil, p.errf("want ']' at %q", p.rest())
		}
		n = c
	case p.char('('):
		c, err := p.obsOr()
		if err != nil {
			return nil, err
		}
		if !p.char(')') {
			return nil, p.errf("want ')' at %q", p.rest())
		}
		n = c
	default:
		return nil, p.errf("want '[' or '(' at %q", p.rest())
	}
	for {
		q, err := p.qualifier()
		if err != nil {
			return nil, err
		}
		if q == "" {
			return n, nil
		}
		n = unsup("qualifier %s", q)
	}
}

// qualifier consumes WITHIN n SECONDS, REPEATS n TIMES or START t'..' STOP t'..'.
func (p *pparser) qualifier() (string, error) {
	switch {
	case p.keyword("WITHIN"):
		if _, err := p.number(); err != nil {
			return "", err
		}
		if !p.keyword("SECONDS") {
			return "", p.errf("want SECONDS")
		}
		return "WITHIN", nil
	case p.keyword("REPEATS"):
		if _, err := p.number(); err != nil {
			return "", err
		}
		if !p.keyword("TIMES") {
			return "", p.errf("want TIMES")
		}
		return "REPEATS", nil
	case p.keyword("START"):
		if _, err := p.literal(); err != nil {
			return "", err
		}
		if !p.keyword("STOP") {
			return "", p.errf("want STOP")
		}
		if _, err := p.literal(); err != nil {
			return "", err
		}
		return "START/STOP", nil
	}
	return "", nil
}

func (p *pparser) number() (string, error) {
	p.ws()
	st := p.i
	if p.i < len(p.s) && (p.s[p.i] == '-' || p.s[p.i] == '+') {
		p.i++
	}
	for p.i < len(p.s) && (p.s[p.i] >= '0' && p.s[p.i] <= '9' || p.s[p.i] == '.') {
		p.i++
	}
	if p.i == st || p.i == st+1 && (p.s[st] == '-' || p.s[st] == '+') {
		return "", p.errf("want number at %q", p.rest())
	}
	return p.s[st:p.i], nil
}

// cmpOr: cmpAnd (OR cmpAnd)*
func (p *pparser) cmpOr() (*node, error) { return p.joined(nOr, "OR", p.cmpAnd) }

// cmpAnd: cmpPrimary (AND cmpPrimary)*
func (p *pparser) cmpAnd() (*node, error) { return p.joined(nAnd, "AND", p.cmpPrimary) }

// cmpPrimary: '(' cmpOr ')' | comparison
func (p *pparser) cmpPrimary() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	if p.char('(') {
		n, err := p.cmpOr()
		if err != nil {
			return nil, err
		}
		if !p.char(')') {
			return nil, p.errf("want ')' at %q", p.rest())
		}
		return n, nil
	}
	return p.comparison()
}

// objectPath reads "type:prop[.prop|'quoted'|[n]|[*]]*".
func (p *pparser) objectPath() (string, error) {
	p.ws()
	st := p.i
	for p.i < len(p.s) && isWordChar(p.s[p.i]) {
		p.i++
	}
	if p.i == st || p.i >= len(p.s) || p.s[p.i] != ':' {
		return "", p.errf("want object path at %q", p.rest())
	}
	p.i++
	first := true
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case isWordChar(c):
			p.i++
		case c == '\'':
			if _, err := p.quoted(); err != nil {
				return "", err
			}
		case c == '.' && !first:
			p.i++
		case c == '[':
			end := strings.IndexByte(p.s[p.i:], ']')
			if end < 0 {
				return "", p.errf("unterminated list index")
			}
			p.i += end + 1
		default:
			goto done
		}
		first = false
	}
done:
	if first {
		return "", p.errf("want property name at %q", p.rest())
	}
	return p.s[st:p.i], nil
}

// quoted reads a single-quoted string with \' and \\ escapes.
func (p *pparser) quoted() (string, error) {
	if p.i >= len(p.s) || p.s[p.i] != '\'' {
		return "", p.errf("want string at %q", p.rest())
	}
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case '\\':
			if p.i+1 >= len(p.s) {
				return "", p.errf("unterminated string")
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		case '\'':
			p.i++
			return b.String(), nil
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", p.errf("unterminated string")
}

// value is a literal: isString tells a plain string from b”, h”, t”,
// numbers and booleans.
type value struct {
	s        string
	isString bool
}

func (p *pparser) literal() (value, error) {
	p.ws()
	if p.i >= len(p.s) {
		return value{}, p.errf("want value at end of pattern")
	}
	c := p.s[p.i]
	switch {
	case c == '\'':
		s, err := p.quoted()
		return value{s: s, isString: true}, err
	case (c == 'b' || c == 'h' || c == 't') && p.i+1 < len(p.s) && p.s[p.i+1] == '\'':
		p.i++
		s, err := p.quoted()
		return value{s: s}, err
	case c == '-' || c == '+' || c >= '0' && c <= '9':
		s, err := p.number()
		return value{s: s}, err
	case p.keyword("true"):
		return value{s: "true"}, nil
	case p.keyword("false"):
		return value{s: "false"}, nil
	}
	return value{}, p.errf("want value at %q", p.rest())
}

var operators = []string{"!=", "<=", ">=", "=", "<", ">"}
var wordOperators = []string{"ISSUBSET", "ISSUPERSET", "MATCHES", "LIKE", "IN"}

// comparison: objectPath [NOT] op value | EXISTS objectPath
func (p *pparser) comparison() (*node, error) {
	if p.keyword("EXISTS") {
		if _, err := p.objectPath(); err != nil {
			return nil, err
		}
		return unsup("operator EXISTS"), nil
	}
	path, err := p.objectPath()
	if err != nil {
		return nil, err
	}
	neg := p.keyword("NOT")
	p.ws()
	op := ""
	for _, o := range operators {
		if strings.HasPrefix(p.s[p.i:], o) {
			op, p.i = o, p.i+len(o)
			break
		}
	}
	if op == "" {
		for _, o := range wordOperators {
			if p.keyword(o) {
				op = o
				break
			}
		}
	}
	if op == "" {
		return nil, p.errf("want operator at %q", p.rest())
	}
	var vals []value
	if op == "IN" {
		if !p.char('(') {
			return nil, p.errf("want '(' after IN")
		}
		for {
			v, err := p.literal()
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
			if p.char(')') {
				break
			}
			if !p.char(',') {
				return nil, p.errf("want ',' or ')' in IN list at %q", p.rest())
			}
		}
	} else {
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		vals = []value{v}
	}
	if neg || op == "!=" {
		return unsup("negation"), nil
	}
	return compile(path, op, vals), nil
}

// compile maps a well-formed comparison onto terms, or explains why not.
func compile(path, op string, vals []value) *node {
	objType, prop, _ := strings.Cut(path, ":")
	objType = strings.ToLower(objType)
	var typ Type
	switch {
	case (objType == "ipv4-addr" || objType == "ipv6-addr") && prop == "value":
		typ = TypeIP
		if op != "=" && op != "IN" && op != "ISSUBSET" {
			return unsup("operator %s", op)
		}
	case (objType == "domain-name" || objType == "url") && prop == "value":
		typ = TypeDomain
		if objType == "url" {
			typ = TypeURL
		}
		if op != "=" && op != "IN" {
			return unsup("operator %s", op)
		}
	case objType == "file" && strings.HasPrefix(prop, "hashes."):
		alg := strings.ToUpper(strings.Trim(prop[len("hashes."):], "'"))
		alg = strings.NewReplacer("-", "", "_", "").Replace(alg)
		switch alg {
		case "MD5":
			typ = TypeMD5
		case "SHA1":
			typ = TypeSHA1
		case "SHA256":
			typ = TypeSHA256
		default:
			return unsup("hash algorithm %s", short(alg))
		}
		if op != "=" && op != "IN" {
			return unsup("operator %s", op)
		}
	default:
		return unsup("object path %s", short(path))
	}
	n := &node{kind: nCmp, objType: objType}
	for _, v := range vals {
		if !v.isString {
			return unsup("non-string literal")
		}
		t, err := newTerm(typ, false, v.s)
		if err != nil {
			return unsup("invalid value")
		}
		if op == "ISSUBSET" && typ != TypeIP {
			return unsup("operator %s", op)
		}
		n.terms = append(n.terms, t)
	}
	return n
}

var errTooComplex = errors.New("too complex")

// dnf flattens n into an OR of supported conjunctions, collecting the
// reasons for skipped branches.
func dnf(n *node) ([]conj, []string) {
	cs, skipped, err := dnfRec(n)
	if err != nil {
		return nil, append(skipped, err.Error())
	}
	return cs, skipped
}

func dnfRec(n *node) ([]conj, []string, error) {
	switch n.kind {
	case nUnsup:
		return nil, []string{n.reason}, nil
	case nCmp:
		out := make([]conj, 0, len(n.terms))
		for _, t := range n.terms {
			out = append(out, conj{objType: n.objType, terms: []Term{t}})
		}
		return out, nil, nil
	case nOr:
		var out []conj
		var skipped []string
		for _, k := range n.kids {
			cs, sk, err := dnfRec(k)
			skipped = append(skipped, sk...)
			if err != nil {
				return nil, skipped, err
			}
			out = append(out, cs...)
			if len(out) > maxConjunctions {
				return nil, skipped, errTooComplex
			}
		}
		return out, skipped, nil
	case nAnd:
		acc := []conj{{}}
		var skipped []string
		for _, k := range n.kids {
			cs, sk, err := dnfRec(k)
			skipped = append(skipped, sk...)
			if err != nil {
				return nil, skipped, err
			}
			if len(acc)*len(cs) > maxConjunctions {
				return nil, skipped, errTooComplex
			}
			next := make([]conj, 0, len(acc)*len(cs))
			for _, a := range acc {
				for _, c := range cs {
					if a.objType != "" && a.objType != c.objType {
						skipped = append(skipped, "AND across object types")
						continue
					}
					terms := make([]Term, 0, len(a.terms)+len(c.terms))
					terms = append(append(terms, a.terms...), c.terms...)
					next = append(next, conj{objType: c.objType, terms: dedupTerms(terms)})
				}
			}
			acc = next
		}
		return acc, skipped, nil
	}
	return nil, nil, fmt.Errorf("unknown node kind %d", n.kind)
}

func dedupTerms(ts []Term) []Term {
	out := ts[:0]
	for _, t := range ts {
		dup := false
		for _, o := range out {
			if o.Type == t.Type && o.Value == t.Value {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, t)
		}
	}
	return out
}
