package correlation

import (
	"errors"
	"fmt"
	"strings"
)

// expr is a temporal condition: a boolean expression over referenced rule
// names, e.g. "recon_a and (recon_b or recon_c)". A name is true when that
// rule matched for the group within the window.
type expr interface {
	eval(seen func(name string) bool) bool
	names(func(string))
}

type (
	exprName struct{ name string }
	exprNot  struct{ x expr }
	exprAnd  struct{ a, b expr }
	exprOr   struct{ a, b expr }
)

func (e exprName) eval(seen func(string) bool) bool { return seen(e.name) }
func (e exprNot) eval(seen func(string) bool) bool  { return !e.x.eval(seen) }
func (e exprAnd) eval(seen func(string) bool) bool  { return e.a.eval(seen) && e.b.eval(seen) }
func (e exprOr) eval(seen func(string) bool) bool   { return e.a.eval(seen) || e.b.eval(seen) }
func (e exprName) names(f func(string))             { f(e.name) }
func (e exprNot) names(f func(string))              { e.x.names(f) }
func (e exprAnd) names(f func(string))              { e.a.names(f); e.b.names(f) }
func (e exprOr) names(f func(string))               { e.a.names(f); e.b.names(f) }

const maxExprDepth = 32

type exprParser struct {
	toks  []string
	pos   int
	depth int
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		case isNameByte(c):
			j := i
			for j < len(s) && isNameByte(s[j]) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q at offset %d", c, i)
		}
	}
	return toks, nil
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':'
}

func parseExpr(s string) (expr, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, errors.New("empty expression")
	}
	p := &exprParser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	return e, nil
}

func (p *exprParser) peekKeyword(kw string) bool {
	return p.pos < len(p.toks) && strings.EqualFold(p.toks[p.pos], kw)
}

func (p *exprParser) or() (expr, error) {
	a, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peekKeyword("or") {
		p.pos++
		b, err := p.and()
		if err != nil {
			return nil, err
		}
		a = exprOr{a, b}
	}
	return a, nil
}

func (p *exprParser) and() (expr, error) {
	a, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peekKeyword("and") {
		p.pos++
		b, err := p.unary()
		if err != nil {
			return nil, err
		}
		a = exprAnd{a, b}
	}
	return a, nil
}

func (p *exprParser) unary() (expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxExprDepth {
		return nil, errors.New("expression nested too deeply")
	}
	if p.pos >= len(p.toks) {
		return nil, errors.New("expression ends early")
	}
	t := p.toks[p.pos]
	switch {
	case strings.EqualFold(t, "not"):
		p.pos++
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return exprNot{x}, nil
	case t == "(":
		p.pos++
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.toks) || p.toks[p.pos] != ")" {
			return nil, errors.New("missing )")
		}
		p.pos++
		return x, nil
	case t == ")" || strings.EqualFold(t, "and") || strings.EqualFold(t, "or"):
		return nil, fmt.Errorf("unexpected %q", t)
	}
	p.pos++
	return exprName{t}, nil
}
