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
		if len(v.reFactors) > 0 && len(v.reFactors[0]) == 1 {
			return v.reFactors[0][0]
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

// regexFactors returns what every match of src contains: per factor, at
// least one of its lower-cased literals. A factor with one literal comes
// from a mandatory literal of the top-level concatenation, one with several
// from an alternation whose branches each have a mandatory literal.
// Single-literal factors come first, longest first.
func regexFactors(src string) [][]string {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil
	}
	fs := factorsOf(re.Simplify(), 0)
	slices.SortStableFunc(fs, func(a, b []string) int {
		if (len(a) == 1) != (len(b) == 1) {
			if len(a) == 1 {
				return -1
			}
			return 1
		}
		return minLen(b) - minLen(a)
	})
	return slices.CompactFunc(fs, slices.Equal)
}

func minLen(alts []string) int {
	m := -1
	for _, a := range alts {
		if m < 0 || len(a) < m {
			m = len(a)
		}
	}
	return m
}

func factorsOf(re *syntax.Regexp, depth int) [][]string {
	if depth > 20 {
		return nil
	}
	switch re.Op {
	case syntax.OpLiteral:
		if l, ok := foldSafeLiteral(re); ok {
			return [][]string{{l}}
		}
	case syntax.OpCapture, syntax.OpPlus:
		return factorsOf(re.Sub[0], depth+1)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return factorsOf(re.Sub[0], depth+1)
		}
	case syntax.OpConcat:
		var out [][]string
		for _, s := range re.Sub {
			out = append(out, factorsOf(s, depth+1)...)
		}
		if len(out) > 16 {
			out = out[:16]
		}
		return out
	case syntax.OpAlternate:
		var alts []string
		for _, s := range re.Sub {
			best := []string(nil)
			for _, f := range factorsOf(s, depth+1) {
				if best == nil || minLen(f) > minLen(best) {
					best = f
				}
			}
			if best == nil || minLen(best) < 2 {
				return nil // a branch without a literal (or a one-byte one): no factor
			}
			alts = append(alts, best...)
		}
		if len(alts) > 32 {
			return nil
		}
		slices.Sort(alts)
		return [][]string{slices.Compact(alts)}
	}
	return nil
}

// foldSafeLiteral lower-cases a regex literal. Of a case-folding literal
// it keeps the longest run without k, s or non-ASCII letters: (?i)k also
// matches the Kelvin sign and (?i)s the long s, whose lower case is not k or s.
func foldSafeLiteral(re *syntax.Regexp) (string, bool) {
	if re.Flags&syntax.FoldCase == 0 {
		return strings.ToLower(string(re.Rune)), true
	}
	best, start := "", 0
	for i := 0; i <= len(re.Rune); i++ {
		if i < len(re.Rune) {
			r := re.Rune[i]
			if r < 0x80 && r != 'k' && r != 'K' && r != 's' && r != 'S' {
				continue
			}
		}
		if i-start > len(best) {
			best = string(re.Rune[start:i])
		}
		start = i + 1
	}
	return strings.ToLower(best), best != ""
}
