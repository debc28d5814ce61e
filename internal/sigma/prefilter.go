package sigma

import (
	"regexp/syntax"
	"slices"
	"strings"
)

// The prefilter skips rules that cannot match. For each rule it derives a
// necessary condition from the condition tree: a set of (field, literal)
// atoms, at least one of which must occur (lower-cased) in the event for
// the rule to match. Each literal is indexed by its rarest trigram; per
// event, the trigrams of the needed fields' values mark the rules that may
// match, and only those (plus rules without a derivable need) are evaluated.
// A false positive of the prefilter only costs an evaluation; it never
// changes a result.

// needAtom says: one of lits occurs in the lower-cased value of slot.
type needAtom struct {
	slot int
	lits []string
	tris [][]uint32 // per literal: hashes of its trigrams (for verification)
}

const (
	preBits    = 18
	preBuckets = 1 << preBits
	minLit     = 3
)

type prefilter struct {
	off   []uint32 // bucket i's postings are post[off[i]:off[i+1]]
	post  []int32  // rule indexes
	slots map[int]bool
}

func triHash(slot int, a, b, c byte) uint32 {
	t := uint32(a)<<16 | uint32(b)<<8 | uint32(c)
	return ((t * 2654435761) ^ (uint32(slot) * 0x9E3779B1)) >> (32 - preBits)
}

// itemAtom returns the need atom of an item, or ok=false if the item gives
// no literal condition (regex, negation, exists, short literals, …).
func itemAtom(it *item) (needAtom, int, bool) {
	if it.exists >= 0 || len(it.vals) == 0 {
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
		if v.neg {
			return 0, false
		}
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

// buildPrefilter computes rule needs and the trigram index.
func buildPrefilter(rs *ruleSet, eidSlot int) {
	freq := map[uint64]int{}
	key := func(slot int, a, b, c byte) uint64 {
		return uint64(slot)<<24 | uint64(a)<<16 | uint64(b)<<8 | uint64(c)
	}
	for _, r := range rs.rules {
		skip := -1
		if r.meta.Logsource.Product == "windows" {
			// Windows events have no message: keywords search the raw record,
			// and scanning kilobytes of JSON per event costs more than the few
			// keyword rules it would skip.
			skip = keywordSlot
		}
		need, score := needOf(r.cond, eidSlot, skip)
		if need == nil || score < minLit {
			continue
		}
		r.need, r.hasNeed = need, true
		for ai := range need {
			a := &need[ai]
			a.tris = make([][]uint32, len(a.lits))
			for li, l := range a.lits {
				for i := 0; i+3 <= len(l) && len(a.tris[li]) < 12; i++ {
					a.tris[li] = append(a.tris[li], triHash(a.slot, l[i], l[i+1], l[i+2]))
				}
			}
		}
		for _, a := range need {
			for _, l := range a.lits {
				for i := 0; i+3 <= len(l); i++ {
					freq[key(a.slot, l[i], l[i+1], l[i+2])]++
				}
			}
		}
	}
	if len(freq) == 0 {
		return // no rule has a literal need: no prefilter
	}
	type posting struct {
		h    uint32
		rule int32
	}
	var ps []posting
	slots := map[int]bool{}
	for _, r := range rs.rules {
		if !r.hasNeed {
			continue
		}
		for _, a := range r.need {
			slots[a.slot] = true
			for _, l := range a.lits {
				best, bestF := 0, -1
				for i := 0; i+3 <= len(l); i++ {
					f := freq[key(a.slot, l[i], l[i+1], l[i+2])]
					if bestF < 0 || f < bestF {
						best, bestF = i, f
					}
				}
				ps = append(ps, posting{triHash(a.slot, l[best], l[best+1], l[best+2]), int32(r.idx)})
			}
		}
	}
	slices.SortFunc(ps, func(a, b posting) int {
		if a.h != b.h {
			return int(a.h) - int(b.h)
		}
		return int(a.rule) - int(b.rule)
	})
	ps = slices.CompactFunc(ps, func(a, b posting) bool { return a == b })
	p := &prefilter{off: make([]uint32, preBuckets+1), post: make([]int32, len(ps)), slots: slots}
	for i, x := range ps {
		p.post[i] = x.rule
		p.off[x.h+1]++
	}
	for i := 1; i <= preBuckets; i++ {
		p.off[i] += p.off[i-1]
	}
	rs.pre = p
	// Each bucket scans the slots its rules need.
	for _, b := range rs.allBuckets() {
		set := map[int]bool{}
		for _, e := range b.entries {
			for _, a := range e.r.need {
				set[a.slot] = true
			}
		}
		for s := range set {
			b.slots = append(b.slots, s)
		}
		slices.Sort(b.slots)
	}
}

// scan marks the rules whose literal trigrams occur in slot's value.
func (p *prefilter) scan(c *evalCtx, slot int) {
	if c.scanned[slot] == c.gen {
		return
	}
	c.scanned[slot] = c.gen
	f := c.field(slot)
	if !f.present {
		return
	}
	if f.isList {
		for _, s := range c.lowListOf(f) {
			p.scanString(c, slot, s)
		}
		return
	}
	p.scanString(c, slot, c.lowOf(f))
}

func (p *prefilter) scanString(c *evalCtx, slot int, s string) {
	for i := 0; i+3 <= len(s); i++ {
		h := triHash(slot, s[i], s[i+1], s[i+2])
		c.tri[h] = c.gen
		for _, r := range p.post[p.off[h]:p.off[h+1]] {
			c.possible[r] = c.gen
		}
	}
}

// verify checks that, for some literal of the rule's need, every one of
// its (first 12) trigrams occurs in the scanned values.
func (p *prefilter) verify(c *evalCtx, r *crule) bool {
	for ai := range r.need {
		for _, hs := range r.need[ai].tris {
			ok := true
			for _, h := range hs {
				if c.tri[h] != c.gen {
					ok = false
					break
				}
			}
			if ok {
				return true
			}
		}
	}
	return false
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

// setTrigrams records up to three trigram hashes (start, middle, end) of a
// positive literal pattern, for the per-pattern skip in item.eval.
func (vm *valueMatcher) setTrigrams(slot int) {
	if vm.neg {
		return
	}
	switch vm.op {
	case opEq, opContains, opPrefix, opSuffix:
	default:
		return
	}
	l := strings.ToLower(vm.pat)
	if len(l) < minLit {
		return
	}
	for _, i := range []int{0, (len(l) - 3) / 2, len(l) - 3} {
		h := triHash(slot, l[i], l[i+1], l[i+2])
		if !slices.Contains(vm.tris, h) {
			vm.tris = append(vm.tris, h)
		}
	}
}
