package sigma

import "slices"

// Condition order. An AND, OR or "x of" gives the same answer in any
// order, so matching tries kids with a cheap decisive test (presence, the
// atom table, a literal: cost below 3) before kids that need a regex,
// fieldref or keyword search, keeping the written order within each class:
// in "keywords and not 1 of filter_*", a field filter that holds for most
// events is read before the whole record is searched for keywords. Explanations (they list items in written order) and the
// reference path keep the written order.

// orderedNode evaluates fast, the kids of written reordered, when it can.
type orderedNode struct {
	written node
	fast    node
}

func (o orderedNode) eval(c *evalCtx) bool {
	if c.explain != nil || c.slow {
		return o.written.eval(c)
	}
	return o.fast.eval(c)
}

// decisiveCost is the itemCost of the cheapest test that can decide n on
// its own (its kids and items cheapest first).
func decisiveCost(n node) int {
	best := 4
	switch x := n.(type) {
	case *selection:
		for _, it := range x.items {
			best = min(best, itemCost(it))
		}
	case andNode:
		for _, k := range x {
			best = min(best, decisiveCost(k))
		}
	case orNode:
		for _, k := range x {
			best = min(best, decisiveCost(k))
		}
	case notNode:
		best = decisiveCost(x.n)
	case ofNode:
		for _, k := range x.kids {
			best = min(best, decisiveCost(k))
		}
	case orderedNode:
		best = decisiveCost(x.written)
	}
	return best
}

// costOrder returns n with its AND, OR and "x of" kids (at every depth)
// tried cheapest first, ties in written order, and whether that changed
// anything. It runs after every pass that reads the tree by node type
// (routing ids, prefilter needs, item order).
func costOrder(n node) (node, bool) {
	// sorted orders kids (each reordered inside first).
	sorted := func(kids []node) ([]node, bool) {
		fast := make([]node, len(kids))
		changed := false
		for i, k := range kids {
			var ch bool
			fast[i], ch = costOrder(k)
			changed = changed || ch
		}
		idx := make([]int, len(fast))
		for i := range idx {
			idx[i] = i
		}
		dear := make([]int, len(fast)) // 1: the kid's cheapest decisive test costs 3 or more
		for i, k := range fast {
			dear[i] = b2i(decisiveCost(k) >= 3)
		}
		slices.SortStableFunc(idx, func(a, b int) int { return dear[a] - dear[b] })
		out := make([]node, len(fast))
		for i, j := range idx {
			out[i] = fast[j]
			changed = changed || i != j
		}
		return out, changed
	}
	switch x := n.(type) {
	case andNode:
		if kids, ok := sorted(x); ok {
			return orderedNode{written: x, fast: andNode(kids)}, true
		}
	case orNode:
		if kids, ok := sorted(x); ok {
			return orderedNode{written: x, fast: orNode(kids)}, true
		}
	case ofNode:
		if kids, ok := sorted(x.kids); ok {
			return orderedNode{written: x, fast: ofNode{n: x.n, kids: kids}}, true
		}
	case notNode:
		if k, ok := costOrder(x.n); ok {
			return orderedNode{written: x, fast: notNode{k}}, true
		}
	}
	return n, false
}
