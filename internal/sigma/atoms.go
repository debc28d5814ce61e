package sigma

import "slices"

// atomTable collects the distinct lower-case literals per slot.
type atomTable struct {
	ids  []map[string]int32 // per slot: literal → local id
	lits [][]string         // per slot: local id → literal
	base []int32            // per slot: global id of local 0 (after freeze)
}

func (t *atomTable) add(slot int, lit string) {
	if lit == "" || (len(lit) < minLit && isASCII(lit)) || (slot == keywordSlot && len(lit) < 4) {
		// Short ASCII literals would force the automaton's byte-pair skip
		// (every position may start a one- or two-byte literal); their
		// matchers search them directly instead. Non-ASCII ones stay: their
		// automaton only scans non-ASCII values. The keyword slot scans
		// whole records: there, three bytes are short too.
		return
	}
	for len(t.ids) <= slot {
		t.ids = append(t.ids, nil)
		t.lits = append(t.lits, nil)
	}
	if t.ids[slot] == nil {
		t.ids[slot] = map[string]int32{}
	}
	if _, ok := t.ids[slot][lit]; !ok {
		t.ids[slot][lit] = int32(len(t.lits[slot]))
		t.lits[slot] = append(t.lits[slot], lit)
	}
}

// global returns lit's global atom id (ok=false if the slot has no automaton).
func (t *atomTable) global(slot int, lit string) (int32, bool) {
	if slot >= len(t.ids) || t.base[slot] < 0 {
		return 0, false
	}
	id, ok := t.ids[slot][lit]
	return t.base[slot] + id, ok
}

// exactAtom is the literal that decides a non-cased literal matcher, with
// the hit flag that means a match.
func exactAtom(v *valueMatcher) (string, uint8, bool) {
	if v.cased || v.pat == "" {
		return "", 0, false
	}
	switch v.op {
	case opEq:
		return v.pat, hitWhole, true
	case opContains:
		return v.pat, hitAny, true
	case opPrefix:
		return v.pat, hitStart, true
	case opSuffix:
		return v.pat, hitEnd, true
	}
	return "", 0, false
}

// preFactors are what every match of v contains: per factor, one of its
// lower-case literals. Checked before running a regex, wildcard or
// case-sensitive pattern.
func preFactors(v *valueMatcher) [][]string {
	switch v.op {
	case opRe:
		return v.reFactors
	case opGlob, opEq, opContains, opPrefix, opSuffix:
		if _, _, ok := exactAtom(v); ok {
			return nil
		}
		if l := valueLiteral(v); l != "" {
			return [][]string{{l}}
		}
	}
	return nil
}

// walkItems calls fn for every item of a condition tree.
func walkItems(n node, fn func(*item)) {
	switch x := n.(type) {
	case *selection:
		for _, it := range x.items {
			fn(it)
		}
	case andNode:
		for _, k := range x {
			walkItems(k, fn)
		}
	case orNode:
		for _, k := range x {
			walkItems(k, fn)
		}
	case notNode:
		walkItems(x.n, fn)
	case ofNode:
		for _, k := range x.kids {
			walkItems(k, fn)
		}
	case orderedNode:
		walkItems(x.written, fn)
	}
}

func (r *crule) walkItems(fn func(*item)) {
	walkItems(r.cond, fn)
	for _, f := range r.filters {
		walkItems(f, fn)
	}
	for _, it := range r.excepts {
		fn(it)
	}
}

// buildPrefilter derives rule needs, collects every slot's literal atoms,
// compiles the automata and the atom → rule postings of the needs.
func buildPrefilter(rs *ruleSet, eidSlot int) {
	var t atomTable
	for _, r := range rs.rules {
		skip := -1
		if r.meta.Logsource.Product == "windows" {
			// Windows events have no message: keywords search the raw record,
			// and scanning kilobytes of JSON per event costs more than the few
			// keyword rules it would skip.
			skip = keywordSlot
		}
		need, score := needOf(r.cond, eidSlot, skip)
		if need != nil && score >= minLit {
			r.need, r.hasNeed = need, true
			for _, a := range need {
				for _, l := range a.lits {
					t.add(a.slot, l)
				}
			}
		}
		r.walkItems(func(it *item) {
			it.kw = keywordFilter(it)
			for _, v := range it.vals {
				if l, _, ok := exactAtom(v); ok {
					t.add(it.slot, l)
				}
				for _, alts := range preFactors(v) {
					for _, l := range alts {
						t.add(it.slot, l)
					}
				}
			}
		})
	}
	rs.ac = make([]*acMatcher, len(rs.slotKeys))
	rs.acU = make([]*acMatcher, len(rs.slotKeys))
	t.base = make([]int32, len(t.lits))
	natoms := int32(0)
	for slot, lits := range t.lits {
		t.base[slot] = -1
		if len(lits) == 0 {
			continue
		}
		// ASCII literals first: an ASCII value (most) only needs their
		// automaton, which has fewer byte classes and a smaller table.
		slices.SortStableFunc(lits, func(a, b string) int { return b2i(!isASCII(a)) - b2i(!isASCII(b)) })
		na := 0
		for i, l := range lits {
			t.ids[slot][l] = int32(i)
			if isASCII(l) {
				na++
			}
		}
		var m, mu *acMatcher
		if na > 0 {
			if m = buildAC(lits[:na], natoms); m == nil {
				continue
			}
		}
		if na < len(lits) {
			if mu = buildAC(lits[na:], natoms+int32(na)); mu == nil {
				continue
			}
		}
		rs.ac[slot], rs.acU[slot] = m, mu
		t.base[slot] = natoms
		natoms += int32(len(lits))
	}
	rs.natoms = int(natoms)
	// Matchers answer from the atom table when their literal is an atom.
	for _, r := range rs.rules {
		r.walkItems(func(it *item) {
			for _, v := range it.vals {
				if l, fl, ok := exactAtom(v); ok {
					if id, ok := t.global(it.slot, l); ok {
						v.acID, v.acFl = id+1, fl
					}
				}
				v.preIDs = v.preIDs[:0]
			factors:
				for _, alts := range preFactors(v) {
					var ids []int32
					for _, l := range alts {
						id, ok := t.global(it.slot, l)
						if !ok {
							continue factors // no automaton: the factor cannot be checked
						}
						ids = append(ids, id)
					}
					v.preIDs = append(v.preIDs, ids)
				}
			}
		})
	}
	// Needs: a rule is possible once one of its need literals occurs. A
	// need on a slot without an automaton (table too large) drops the need.
	type posting struct{ atom, rule int32 }
	var ps []posting
	for _, r := range rs.rules {
		if !r.hasNeed {
			continue
		}
		var mine []posting
		ok := true
		for _, a := range r.need {
			for _, l := range a.lits {
				id, found := t.global(a.slot, l)
				if !found {
					ok = false
				}
				mine = append(mine, posting{id, int32(r.idx)})
			}
		}
		if !ok {
			r.need, r.hasNeed = nil, false
			continue
		}
		ps = append(ps, mine...)
	}
	slices.SortFunc(ps, func(a, b posting) int {
		if a.atom != b.atom {
			return int(a.atom) - int(b.atom)
		}
		return int(a.rule) - int(b.rule)
	})
	ps = slices.Compact(ps)
	rs.needOff = make([]uint32, natoms+1)
	rs.needPost = make([]int32, len(ps))
	for i, p := range ps {
		rs.needPost[i] = p.rule
		rs.needOff[p.atom+1]++
	}
	for i := int32(1); i <= natoms; i++ {
		rs.needOff[i] += rs.needOff[i-1]
	}
	// Each bucket scans the slots its rules need before choosing rules.
	for _, b := range rs.allBuckets() {
		b.keys = make([]bkey, len(b.entries))
		for i, e := range b.entries {
			b.keys[i].k = int32(e.r.idx)<<1 | int32(b2i(e.r.hasNeed))
		}
		// next: past the run of entries with a need whose rules share
		// entry i's word of the possible set (one zero word skips them all).
		for i := len(b.keys) - 1; i >= 0; i-- {
			k := b.keys[i].k
			b.keys[i].next = int32(i + 1)
			if k&1 != 0 && i+1 < len(b.keys) {
				if n := b.keys[i+1].k; n&1 != 0 && n>>7 == k>>7 {
					b.keys[i].next = b.keys[i+1].next
				}
			}
		}
		set := map[int]bool{}
		for _, e := range b.entries {
			for _, a := range e.r.need {
				set[a.slot] = true
			}
		}
		b.slots = b.slots[:0]
		for s := range set {
			b.slots = append(b.slots, s)
		}
		slices.Sort(b.slots)
	}
}

// acMatch answers a matcher from the atom table. decided=false means the
// table cannot decide and the matcher must run.
func (vm *valueMatcher) acMatch(c *evalCtx, f *fval) (res, decided bool) {
	if vm.acID > 0 {
		if vm.isInt && f.isInt {
			return false, false
		}
		return c.has(vm.acID-1, vm.acFl), true
	}
factors:
	for _, ids := range vm.preIDs {
		for _, id := range ids {
			if c.has(id, hitAny) {
				continue factors
			}
		}
		return false, true // no literal of a factor every match has occurs
	}
	return false, false
}

// orderSelections orders each selection's items by the cost of testing
// them (a selection is a pure AND, so the order changes no result; it runs
// after buildPrefilter, which decides which matchers the atom table
// answers): presence tests, then items every value of which the atom table
// answers, then other literal and wildcard tests, then regexes, field
// references and keyword items. Ties keep the written order.
func orderSelections(rs *ruleSet) {
	seen := map[*selection]bool{}
	var visit func(n node)
	visit = func(n node) {
		switch x := n.(type) {
		case *selection:
			if seen[x] {
				return
			}
			seen[x] = true
			if len(x.items) < 2 {
				return
			}
			o := slices.Clone(x.items)
			slices.SortStableFunc(o, func(a, b *item) int { return itemCost(a) - itemCost(b) })
			if !slices.Equal(o, x.items) {
				x.order = o
			}
		case andNode:
			for _, k := range x {
				visit(k)
			}
		case orNode:
			for _, k := range x {
				visit(k)
			}
		case notNode:
			visit(x.n)
		case ofNode:
			for _, k := range x.kids {
				visit(k)
			}
		}
	}
	for _, r := range rs.rules {
		visit(r.cond)
		for _, f := range r.filters {
			visit(f)
		}
	}
}

// itemCost ranks an item's test: 0 presence, 1 atom table only, 2 other
// literal tests, 3 regexes, field references and keyword items.
func itemCost(it *item) int {
	if it.exists >= 0 {
		return 0
	}
	if it.kw != nil || it.slot == keywordSlot {
		return 3
	}
	cost := 1
	for _, v := range it.vals {
		switch {
		case v.op == opRe || v.op == opFieldref:
			return 3
		case v.acID == 0 || v.isInt:
			cost = 2
		}
	}
	return cost
}
