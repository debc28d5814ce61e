package sigma

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// keywordSlot is the field slot of keyword searches: message, else the raw record.
const keywordSlot = 0

// node is a compiled condition element.
type node interface {
	eval(c *evalCtx) bool
}

type andNode []node
type orNode []node
type notNode struct{ n node }
type ofNode struct {
	n    int // required matches; len(kids) for "all of"
	kids []node
}

func (a andNode) eval(c *evalCtx) bool {
	for _, n := range a {
		if !n.eval(c) {
			return false
		}
	}
	return true
}

func (o orNode) eval(c *evalCtx) bool {
	for _, n := range o {
		if n.eval(c) {
			return true
		}
	}
	return false
}

func (n notNode) eval(c *evalCtx) bool {
	// Explanations list only what a positive match rests on.
	ex := c.explain
	c.explain = nil
	r := !n.n.eval(c)
	c.explain = ex
	return r
}

func (o ofNode) eval(c *evalCtx) bool {
	hits := 0
	for _, k := range o.kids {
		if k.eval(c) {
			hits++
			if hits >= o.n && c.explain == nil {
				return true
			}
		}
	}
	return hits >= o.n
}

// selection is one map of a search identifier: all items must match.
type selection struct {
	items []*item
	// order is items, cheapest test first (orderSelections); nil: items.
	// Explanations still record items as written.
	order []*item
}

func (s *selection) eval(c *evalCtx) bool {
	its := s.order
	if its == nil {
		its = s.items
	}
	for _, it := range its {
		if !it.eval(c) {
			return false
		}
	}
	if c.explain != nil {
		for _, it := range s.items {
			it.record(c)
		}
	}
	return true
}

// item is one "Field|modifiers: values" entry, or a keyword list.
type item struct {
	field   string // Sigma field name ("" for keywords)
	mods    string
	slot    int
	all     bool
	neq     bool              // the field equals none of the values (all is then moot)
	exists  int8              // -1: no exists modifier; 0/1: must be absent/present
	vals    []*valueMatcher   // every variant of every value (OR)
	groups  [][]*valueMatcher // per written value, for all: each group must match
	written []string
	kw      *gramFilter // keyword items: skips the record scan when no literal can occur
	head    string      // describeHead, for explanations
	// pats is written with no spare capacity: a signal's matched entries
	// share it (read only; an append copies).
	pats []string
}

func (it *item) eval(c *evalCtx) bool {
	f := c.field(it.slot)
	if it.exists >= 0 {
		return f.present == (it.exists == 1)
	}
	if it.kw != nil && it.keywordRejects(c, f) {
		return false
	}
	// One automaton pass per event answers the literal matchers.
	ac := c.scanSlot(it.slot)
	if it.neq {
		// Sigma neq: the field differs from the value; with a list, from
		// every value (a list of inequalities joined by OR would always hold).
		for _, v := range it.vals {
			if v.matchFast(c, f, ac) {
				return false
			}
		}
		return true
	}
	if it.all {
		for _, g := range it.groups {
			ok := false
			for _, v := range g {
				if v.matchFast(c, f, ac) {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
		return len(it.groups) > 0
	}
	for _, v := range it.vals {
		if v.matchFast(c, f, ac) {
			return true
		}
	}
	return false
}

// matchFast is match, answered from the atom table when it can be.
func (vm *valueMatcher) matchFast(c *evalCtx, f *fval, ac bool) bool {
	if ac {
		if r, ok := vm.acMatch(c, f); ok {
			return r
		}
	}
	return vm.match(c, f)
}

func (it *item) record(c *evalCtx) {
	f := c.field(it.slot)
	v := f.raw
	if f.isList {
		v = strings.Join(f.list, ", ")
	}
	if it.slot == keywordSlot && len(v) > 256 {
		v = v[:256] + "…"
	}
	*c.explain = append(*c.explain, matchedItem{field: it.field, mods: it.mods, value: v, values: it.written, head: it.head, it: it})
}

// compiler compiles the detection of one document against the rule set's slot table.
type compiler struct {
	path         string
	ls           Logsource
	placeholders map[string][]string
	slotOf       func(keys []string) int
}

// compileDetection compiles a detection (or filter) section: its search
// identifiers and its condition.
func (cp *compiler) compileDetection(det *yaml.Node, isFilter bool) (node, map[string]node, error) {
	if det == nil || det.Kind != yaml.MappingNode {
		return nil, nil, posErr(cp.path, det, "detection must be a mapping")
	}
	sels := map[string]node{}
	var names []string
	var condNode *yaml.Node
	for i := 0; i+1 < len(det.Content); i += 2 {
		k, v := det.Content[i], det.Content[i+1]
		switch k.Value {
		case "condition":
			condNode = v
			continue
		case "timeframe":
			return nil, nil, posErr(cp.path, k, "timeframe in a detection is Sigma 1 aggregation: use a correlation rule")
		case "rules":
			if isFilter {
				continue // the filter's rule references, not a selection
			}
		}
		n, err := cp.compileSearch(k.Value, v)
		if err != nil {
			return nil, nil, err
		}
		sels[k.Value] = n
		names = append(names, k.Value)
	}
	if condNode == nil {
		return nil, nil, posErr(cp.path, det, "missing condition")
	}
	sort.Strings(names)
	var conds []string
	switch condNode.Kind {
	case yaml.ScalarNode:
		conds = []string{condNode.Value}
	case yaml.SequenceNode:
		for _, c := range condNode.Content {
			if c.Kind != yaml.ScalarNode {
				return nil, nil, posErr(cp.path, c, "condition entries must be strings")
			}
			conds = append(conds, c.Value)
		}
	default:
		return nil, nil, posErr(cp.path, condNode, "condition must be a string or a list of strings")
	}
	var roots orNode
	for _, cs := range conds {
		cn, err := parseCondition(cs)
		if err != nil {
			return nil, nil, posErr(cp.path, condNode, "condition: %v", err)
		}
		n, err := bindCondition(cn, sels, names)
		if err != nil {
			return nil, nil, posErr(cp.path, condNode, "condition: %v", err)
		}
		roots = append(roots, n)
	}
	if len(roots) == 1 {
		return roots[0], sels, nil
	}
	return roots, sels, nil
}

func bindCondition(cn *condNode, sels map[string]node, names []string) (node, error) {
	switch cn.op {
	case "id":
		n, ok := sels[cn.name]
		if !ok {
			return nil, fmt.Errorf("references missing selection %q", cn.name)
		}
		return n, nil
	case "not":
		k, err := bindCondition(cn.kids[0], sels, names)
		if err != nil {
			return nil, err
		}
		return notNode{k}, nil
	case "and", "or":
		var kids []node
		for _, k := range cn.kids {
			b, err := bindCondition(k, sels, names)
			if err != nil {
				return nil, err
			}
			kids = append(kids, b)
		}
		if cn.op == "and" {
			return andNode(kids), nil
		}
		return orNode(kids), nil
	case "of":
		matched := resolveOf(cn.name, names)
		if len(matched) == 0 {
			return nil, fmt.Errorf("%q matches no selection", cn.name)
		}
		o := ofNode{n: cn.quantN}
		for _, m := range matched {
			o.kids = append(o.kids, sels[m])
		}
		if cn.quantAll {
			o.n = len(o.kids)
		}
		return o, nil
	}
	return nil, fmt.Errorf("bad condition node %q", cn.op)
}

// compileSearch compiles one search identifier's value.
func (cp *compiler) compileSearch(name string, v *yaml.Node) (node, error) {
	switch v.Kind {
	case yaml.MappingNode:
		return cp.compileMap(v)
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			return nil, posErr(cp.path, v, "search identifier %q is an empty list", name)
		}
		var alts orNode
		var kw []*yaml.Node
		for _, e := range v.Content {
			switch e.Kind {
			case yaml.MappingNode:
				s, err := cp.compileMap(e)
				if err != nil {
					return nil, err
				}
				alts = append(alts, s)
			case yaml.ScalarNode:
				if e.Tag == "!!null" {
					return nil, posErr(cp.path, e, "null keyword in %q", name)
				}
				kw = append(kw, e)
			default:
				return nil, posErr(cp.path, e, "search identifier %q: list entries must be maps or strings", name)
			}
		}
		if len(kw) > 0 {
			it, err := cp.compileItem("", nil, kw, v)
			if err != nil {
				return nil, err
			}
			alts = append(alts, &selection{items: []*item{it}})
		}
		if len(alts) == 1 {
			return alts[0], nil
		}
		return alts, nil
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return nil, posErr(cp.path, v, "search identifier %q is empty", name)
		}
		it, err := cp.compileItem("", nil, []*yaml.Node{v}, v)
		if err != nil {
			return nil, err
		}
		return &selection{items: []*item{it}}, nil
	}
	return nil, posErr(cp.path, v, "search identifier %q has an unsupported value", name)
}

func (cp *compiler) compileMap(m *yaml.Node) (*selection, error) {
	if len(m.Content) == 0 {
		return nil, posErr(cp.path, m, "empty selection")
	}
	s := &selection{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, posErr(cp.path, k, "field name must be a string")
		}
		parts := strings.Split(k.Value, "|")
		var vals []*yaml.Node
		switch v.Kind {
		case yaml.ScalarNode:
			vals = []*yaml.Node{v}
		case yaml.SequenceNode:
			vals = v.Content
			if len(vals) == 0 {
				return nil, posErr(cp.path, v, "field %q has an empty value list", parts[0])
			}
		default:
			return nil, posErr(cp.path, v, "field %q: value must be a scalar or a list", parts[0])
		}
		it, err := cp.compileItem(parts[0], parts[1:], vals, k)
		if err != nil {
			return nil, err
		}
		s.items = append(s.items, it)
	}
	return s, nil
}

func (cp *compiler) compileItem(field string, mods []string, vals []*yaml.Node, at *yaml.Node) (*item, error) {
	ms, err := parseModifiers(mods)
	if err != nil {
		return nil, posErr(cp.path, at, "field %q: %v", field, err)
	}
	it := &item{field: field, mods: strings.Join(mods, "|"), all: ms.all, neq: ms.neq, exists: -1}
	defer func() {
		it.head = describeHead(it.field, it.mods, it.written)
		it.pats = slices.Clip(it.written)
	}()
	if field == "" {
		it.slot = keywordSlot
		if !(ms.contains || ms.startswith || ms.endswith || ms.re || ms.cidr || ms.num) {
			// Keywords are full-text: a plain keyword matches anywhere in the text.
			ms.contains = true
		}
	} else {
		it.slot = cp.slotOf(resolveField(cp.ls, field))
	}
	strs := make([]*string, 0, len(vals))
	for _, v := range vals {
		if v.Kind != yaml.ScalarNode {
			return nil, posErr(cp.path, v, "field %q: values must be scalars", field)
		}
		if v.Tag == "!!null" {
			strs = append(strs, nil)
			it.written = append(it.written, "null")
			continue
		}
		s := v.Value
		strs = append(strs, &s)
		it.written = append(it.written, s)
	}
	if ms.exists {
		if len(strs) != 1 || strs[0] == nil || (*strs[0] != "true" && *strs[0] != "false") {
			return nil, posErr(cp.path, at, "field %q: exists needs true or false", field)
		}
		it.exists = int8(b2i(*strs[0] == "true"))
		return it, nil
	}
	it.groups, err = compileValues(ms, strs, cp.placeholders, func(ref string) int {
		return cp.slotOf(resolveField(cp.ls, ref))
	})
	if err != nil {
		return nil, posErr(cp.path, at, "field %q: %v", field, err)
	}
	it.groups = renderedAccessRights(cp.ls, field, ms, it.groups)
	it.groups = paddedLogonProcess(cp.ls, field, ms, it.groups)
	it.groups = jsonEscapedKeywords(field, ms, it.groups)
	for _, g := range it.groups {
		it.vals = append(it.vals, g...)
	}
	if len(it.vals) == 0 {
		return nil, posErr(cp.path, at, "field %q: no values", field)
	}
	return it, nil
}
