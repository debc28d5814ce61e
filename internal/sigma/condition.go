package sigma

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Condition grammar (Sigma 2.1):
//
//	expr   := and ("or" and)*
//	and    := unary ("and" unary)*
//	unary  := "not" unary | "(" expr ")" | quant | IDENT
//	quant  := (NUMBER | "all" | "any") "of" (PATTERN | "them")
//
// Keywords are case-insensitive. An aggregation ("| count() by …") is the
// Sigma 1 form of correlation and is refused with a reason.

// condNode is a parsed condition before selections are bound.
type condNode struct {
	op       string // "and", "or", "not", "id", "of"
	kids     []*condNode
	name     string // id: selection name; of: pattern or "them"
	quantAll bool   // of: all of
	quantN   int    // of: N of
}

type condToken struct {
	text string
	pos  int
}

func tokenizeCondition(s string) ([]condToken, error) {
	if len(s) > MaxConditionLen {
		return nil, fmt.Errorf("condition longer than %d bytes", MaxConditionLen)
	}
	var toks []condToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, condToken{string(c), i})
			i++
		case c == '|':
			return nil, fmt.Errorf("aggregation expressions (| count() …) are not supported: use a correlation rule")
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()|", rune(s[j])) {
				j++
			}
			toks = append(toks, condToken{s[i:j], i})
			i = j
		}
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty condition")
	}
	return toks, nil
}

type condParser struct {
	toks  []condToken
	i     int
	depth int
}

// parseCondition parses one condition string.
func parseCondition(s string) (*condNode, error) {
	toks, err := tokenizeCondition(s)
	if err != nil {
		return nil, err
	}
	p := &condParser{toks: toks}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q at offset %d", p.toks[p.i].text, p.toks[p.i].pos)
	}
	return n, nil
}

func (p *condParser) peek() string {
	if p.i < len(p.toks) {
		return strings.ToLower(p.toks[p.i].text)
	}
	return ""
}

func (p *condParser) expr() (*condNode, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 64 {
		return nil, fmt.Errorf("condition nested deeper than 64")
	}
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek() == "or" {
		p.i++
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		if left.op == "or" {
			left.kids = append(left.kids, right)
		} else {
			left = &condNode{op: "or", kids: []*condNode{left, right}}
		}
	}
	return left, nil
}

func (p *condParser) and() (*condNode, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peek() == "and" {
		p.i++
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		if left.op == "and" {
			left.kids = append(left.kids, right)
		} else {
			left = &condNode{op: "and", kids: []*condNode{left, right}}
		}
	}
	return left, nil
}

func (p *condParser) unary() (*condNode, error) {
	if p.i >= len(p.toks) {
		return nil, fmt.Errorf("condition ends unexpectedly")
	}
	t := p.toks[p.i]
	lt := strings.ToLower(t.text)
	switch lt {
	case "not":
		p.i++
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > 64 {
			return nil, fmt.Errorf("condition nested deeper than 64")
		}
		k, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &condNode{op: "not", kids: []*condNode{k}}, nil
	case "(":
		p.i++
		n, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing ) for ( at offset %d", t.pos)
		}
		p.i++
		return n, nil
	case ")", "and", "or", "of":
		return nil, fmt.Errorf("unexpected %q at offset %d", t.text, t.pos)
	}
	if p.i+1 < len(p.toks) && strings.ToLower(p.toks[p.i+1].text) == "of" {
		n := &condNode{op: "of"}
		switch lt {
		case "all":
			n.quantAll = true
		case "any":
			n.quantN = 1
		default:
			q, err := strconv.Atoi(lt)
			if err != nil || q < 1 {
				return nil, fmt.Errorf("bad quantifier %q at offset %d", t.text, t.pos)
			}
			n.quantN = q
		}
		p.i += 2
		if p.i >= len(p.toks) {
			return nil, fmt.Errorf("%s of: missing pattern", t.text)
		}
		pt := p.toks[p.i]
		if pt.text == "(" || pt.text == ")" {
			return nil, fmt.Errorf("%s of: missing pattern at offset %d", t.text, pt.pos)
		}
		n.name = pt.text
		p.i++
		return n, nil
	}
	p.i++
	return &condNode{op: "id", name: t.text}, nil
}

// resolveOf returns the selection names a "x of" pattern names. "them"
// means every selection except those starting with "_".
func resolveOf(pattern string, names []string) []string {
	var out []string
	for _, n := range names {
		if pattern == "them" {
			if !strings.HasPrefix(n, "_") {
				out = append(out, n)
			}
			continue
		}
		if ok, _ := path.Match(pattern, n); ok {
			out = append(out, n)
		}
	}
	return out
}
