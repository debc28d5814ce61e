package sigma

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/rampart-ids/rampart/internal/event"
)

// crule is one compiled detection rule.
type crule struct {
	idx     int
	meta    *Meta
	cond    node
	filters []node  // from filter documents: each must hold
	excepts []*item // local exceptions: any match excludes the event
	eids    []int64 // Windows event ids the condition requires (nil: any)
	// silent rules feed correlations but emit no signal of their own.
	silent bool
	corr   bool // referenced by a correlation rule
}

// entry is a rule in a routing bucket, with the clause that put it there.
type entry struct {
	r  *crule
	cl *lsClause
}

// ruleSet is an immutable compiled rule set; Reload swaps whole sets.
type ruleSet struct {
	rules     []*crule
	slotKeys  [][]string
	slotIndex map[string]int

	winChanEID map[string]map[int64][]entry
	winChan    map[string][]entry
	winAll     []entry
	byDataset  map[string][]entry
	byModule   map[string][]entry
	byCategory map[string][]entry
	anyRules   []entry

	corr *corrState
	pool sync.Pool
}

func newRuleSet() *ruleSet {
	rs := &ruleSet{
		slotIndex:  map[string]int{},
		winChanEID: map[string]map[int64][]entry{},
		winChan:    map[string][]entry{},
		byDataset:  map[string][]entry{},
		byModule:   map[string][]entry{},
		byCategory: map[string][]entry{},
	}
	rs.slotKeys = append(rs.slotKeys, []string{"message"}) // keywordSlot
	rs.pool.New = func() any { return newEvalCtx(rs) }
	return rs
}

func (rs *ruleSet) slotOf(keys []string) int {
	k := strings.Join(keys, "\x00")
	if i, ok := rs.slotIndex[k]; ok {
		return i
	}
	rs.slotKeys = append(rs.slotKeys, keys)
	rs.slotIndex[k] = len(rs.slotKeys) - 1
	return len(rs.slotKeys) - 1
}

// index routes r by its logsource clauses.
func (rs *ruleSet) index(r *crule, clauses []lsClause) {
	for i := range clauses {
		cl := &clauses[i]
		e := entry{r: r, cl: cl}
		if cl.extraField == "" {
			e.cl = nil
		}
		switch {
		case cl.any:
			rs.anyRules = append(rs.anyRules, e)
		case cl.windows && cl.channel == "":
			rs.winAll = append(rs.winAll, e)
		case cl.windows:
			ids := cl.eids
			if r.eids != nil {
				if ids == nil {
					ids = r.eids
				} else {
					ids = intersect(ids, r.eids)
					if len(ids) == 0 {
						continue // condition requires ids this logsource never has
					}
				}
			}
			if ids == nil {
				rs.winChan[cl.channel] = append(rs.winChan[cl.channel], e)
				continue
			}
			m := rs.winChanEID[cl.channel]
			if m == nil {
				m = map[int64][]entry{}
				rs.winChanEID[cl.channel] = m
			}
			for _, id := range ids {
				m[id] = append(m[id], e)
			}
		case cl.dataset != "":
			rs.byDataset[cl.dataset] = append(rs.byDataset[cl.dataset], e)
		case cl.module != "":
			rs.byModule[cl.module] = append(rs.byModule[cl.module], e)
		case cl.category != "":
			rs.byCategory[cl.category] = append(rs.byCategory[cl.category], e)
		}
	}
}

func intersect(a, b []int64) []int64 {
	var out []int64
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// requiredEIDs returns the Windows event ids a condition requires, or nil
// when it does not restrict them. Used only to narrow routing.
func requiredEIDs(n node, eidSlot int) []int64 {
	switch x := n.(type) {
	case *selection:
		for _, it := range x.items {
			if it.slot != eidSlot || it.all || it.exists >= 0 {
				continue
			}
			var ids []int64
			for _, v := range it.vals {
				if v.op != opEq || !v.isInt || v.neg {
					ids = nil
					break
				}
				ids = append(ids, v.ival)
			}
			if ids != nil {
				return ids
			}
		}
		return nil
	case andNode:
		for _, k := range x {
			if ids := requiredEIDs(k, eidSlot); ids != nil {
				return ids
			}
		}
		return nil
	case orNode:
		var all []int64
		for _, k := range x {
			ids := requiredEIDs(k, eidSlot)
			if ids == nil {
				return nil
			}
			all = append(all, ids...)
		}
		return all
	case ofNode:
		if x.n != len(x.kids) {
			if x.n == 1 {
				return requiredEIDs(orNode(x.kids), eidSlot)
			}
			return nil
		}
		return requiredEIDs(andNode(x.kids), eidSlot)
	}
	return nil
}

// run evaluates the rules that route to ev and calls hit for each match.
func (rs *ruleSet) run(ev *event.Event, hit func(c *evalCtx, r *crule)) {
	c := rs.pool.Get().(*evalCtx)
	c.reset(ev)
	defer func() {
		c.ev = nil
		rs.pool.Put(c)
	}()
	try := func(bucket []entry) {
		for i := range bucket {
			e := &bucket[i]
			if c.seen[e.r.idx] == c.gen {
				continue
			}
			if e.cl != nil && !e.cl.extraOK(c) {
				continue
			}
			c.seen[e.r.idx] = c.gen
			if rs.matches(c, e.r) {
				hit(c, e.r)
			}
		}
	}
	f := ev.Fields
	if ch, ok := f["winlog.channel"].(string); ok {
		lch := c.lower(ch)
		if m := rs.winChanEID[lch]; m != nil {
			if id, ok := eventID(f); ok {
				try(m[id])
			}
		}
		try(rs.winChan[lch])
		try(rs.winAll)
	} else if mod, _ := f["event.module"].(string); mod == "windows" {
		try(rs.winAll)
	}
	if ds, ok := f["event.dataset"].(string); ok {
		try(rs.byDataset[ds])
	}
	if mod, ok := f["event.module"].(string); ok {
		try(rs.byModule[mod])
	}
	switch cat := f["event.category"].(type) {
	case string:
		try(rs.byCategory[cat])
	case []string:
		for _, x := range cat {
			try(rs.byCategory[x])
		}
	}
	try(rs.anyRules)
}

func eventID(f map[string]any) (int64, bool) {
	switch v := f["winlog.event_id"].(type) {
	case int64:
		return v, true
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	if s, ok := f["event.code"].(string); ok {
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	return 0, false
}

func (rs *ruleSet) matches(c *evalCtx, r *crule) bool {
	if !r.cond.eval(c) {
		return false
	}
	for _, fl := range r.filters {
		if !fl.eval(c) {
			return false
		}
	}
	for _, ex := range r.excepts {
		if ex.eval(c) {
			return false
		}
	}
	return true
}

// explain re-evaluates a matched rule and returns the field items its
// match rests on. Called only after a match.
func (rs *ruleSet) explain(c *evalCtx, r *crule) []matchedItem {
	var out []matchedItem
	c.explain = &out
	r.cond.eval(c)
	c.explain = nil
	return out
}

func describe(items []matchedItem) string {
	if len(items) == 0 {
		return ""
	}
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteString("; ")
		}
		name := it.field
		if name == "" {
			name = "keywords"
		}
		if it.mods != "" {
			name += "|" + it.mods
		}
		vals := it.values
		if len(vals) > 3 {
			vals = append(vals[:3:3], fmt.Sprintf("… %d more", len(it.values)-3))
		}
		v := it.value
		if len(v) > 120 {
			v = v[:120] + "…"
		}
		fmt.Fprintf(&b, "%s %v matched %q", name, vals, v)
	}
	return b.String()
}
