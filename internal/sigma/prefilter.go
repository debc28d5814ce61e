package sigma

import (
	"regexp/syntax"
	"slices"
	"strings"
)

// The prefilter skips rules that cannot match. For each rule it derives a
// necessary condition from the condition tree: a set of (field, literal)
// atoms, at least one of which must occur (lower-cased) in the event for
// the rule to match. The literals are atoms of their slot's Aho-Corasick
// automaton (ac.go); per event, the automata of the needed fields mark the
// rules one of whose literals occurs, and only those (plus rules without a
// derivable need) are evaluated. The test is exact, so skipping a rule
// never changes a result.

// needAtom says: one of lits occurs in the lower-cased value of slot.
type needAtom struct {
	slot int
	lits []string
}

const minLit = 3

// itemAtom returns the need atom of an item, or ok=false if the item gives
// no literal condition (regex, negation, exists, short literals, …).
func itemAtom(it *item) (needAtom, int, bool) {
	if it.exists >= 0 || it.neq || len(it.vals) == 0 {
		return needAtom{}, 0, false
	}
	vals := it.vals
	if it.all && len(it.groups) > 0 {
		// Every group must match: one group's literals are a necessary condition.
		best, bestScore := -1, -1
		for i, g := range it.groups {
			if sc, ok := litScore(g); ok && sc > bestScore {
				best, bestScore = i, sc
			}
		}
		if best < 0 {
			return needAtom{}, 0, false
		}
		vals = it.groups[best]
	}
	score, ok := litScore(vals)
	if !ok {
		return needAtom{}, 0, false
	}
	a := needAtom{slot: it.slot}
	for _, v := range vals {
		a.lits = append(a.lits, valueLiteral(v))
	}
	return a, score, true
}

// litScore is the shortest literal length among vals (ok=false if any has no usable literal).
func litScore(vals []*valueMatcher) (int, bool) {
	minLen := -1
	for _, v := range vals {
		l := valueLiteral(v)
		if len(l) < minLit {
			return 0, false
		}
		if minLen < 0 || len(l) < minLen {
			minLen = len(l)
		}
	}
	return minLen, minLen >= minLit
}

// valueLiteral returns a lower-case substring every matching value contains ("" if none).
func valueLiteral(v *valueMatcher) string {
	switch v.op {
	case opEq, opContains, opPrefix, opSuffix:
		return strings.ToLower(v.pat)
	case opRe:
		if len(v.reLits) > 0 {
			return v.reLits[0]
		}
		return ""
	case opGlob:
		best, cur := "", []byte{}
		flush := func() {
			if len(cur) > len(best) {
				best = string(cur)
			}
			cur = cur[:0]
		}
		for _, t := range v.glob {
			if t.kind == 'l' {
				cur = append(cur, t.b)
				continue
			}
			flush()
		}
		flush()
		return strings.ToLower(best)
	}
	return ""
}

// needOf derives the necessary atoms of a condition node (nil: none).
func needOf(n node, eidSlot, skip int) ([]needAtom, int) {
	switch x := n.(type) {
	case *selection:
		var best needAtom
		bestScore := -1
		for _, it := range x.items {
			a, sc, ok := itemAtom(it)
			if !ok || it.slot == skip {
				continue
			}
			if it.slot == eidSlot {
				sc = 0 // routing already narrows by event id
			}
			if sc > bestScore {
				best, bestScore = a, sc
			}
		}
		if bestScore < 0 {
			return nil, 0
		}
		return []needAtom{best}, bestScore
	case orNode:
		return needOfAny(x, eidSlot, skip)
	case andNode:
		return needOfAll(x, eidSlot, skip)
	case ofNode:
		if x.n >= len(x.kids) {
			return needOfAll(x.kids, eidSlot, skip)
		}
		return needOfAny(x.kids, eidSlot, skip)
	}
	return nil, 0
}

func needOfAny(kids []node, eidSlot, skip int) ([]needAtom, int) {
	var out []needAtom
	score := -1
	for _, k := range kids {
		a, sc := needOf(k, eidSlot, skip)
		if a == nil {
			return nil, 0
		}
		out = append(out, a...)
		if score < 0 || sc < score {
			score = sc
		}
	}
	return out, score
}

func needOfAll(kids []node, eidSlot, skip int) ([]needAtom, int) {
	var best []needAtom
	bestScore := -1
	for _, k := range kids {
		a, sc := needOf(k, eidSlot, skip)
		if a == nil {
			continue
		}
		// Prefer fewer atoms with longer literals.
		if bestScore < 0 || sc*4/len(a) > bestScore*4/len(best) {
			best, bestScore = a, sc
		}
	}
	if best == nil {
		return nil, 0
	}
	return best, bestScore
}

// regexLiterals returns lower-cased literals every match of src contains
// (the mandatory literal parts of its top-level concatenation), longest first.
func regexLiterals(src string) []string {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil
	}
	var out []string
	collectLits(re.Simplify(), 0, &out)
	for i := range out {
		out[i] = strings.ToLower(out[i])
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(out)
}

func collectLits(re *syntax.Regexp, depth int, out *[]string) {
	if depth > 20 || len(*out) > 16 {
		return
	}
	switch re.Op {
	case syntax.OpLiteral:
		*out = append(*out, string(re.Rune))
	case syntax.OpCapture, syntax.OpPlus:
		collectLits(re.Sub[0], depth+1, out)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			collectLits(re.Sub[0], depth+1, out)
		}
	case syntax.OpConcat:
		for _, s := range re.Sub {
			collectLits(s, depth+1, out)
		}
	}
}
