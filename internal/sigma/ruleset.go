package sigma

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/rampart-ids/rampart/internal/correlation"
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
	// need: the rule can only match if one of these literals occurs in its slot.
	need    []needAtom
	hasNeed bool
	// silent rules feed correlations but emit no signal of their own.
	silent bool
	corr   bool // referenced by a correlation rule
	// tags (the rule's) and techniques (the ATT&CK ids among them,
	// computed once) have no spare capacity: signals share them.
	tags       []string
	techniques []string
	explHead   string // the explanation's start: Sigma rule "title" matched
	boxPath    any    // filepath.Base(meta.Path): the file name only, no server folder in alerts
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
	// Event keys by id: slots that read the same key (Image and its 4688
	// alias lists share three) look it up once per event.
	slotKeyIDs [][]int32
	keyNames   []string
	keyIDs     map[string]int32
	// The keys routing reads, by id: rules that test the channel or the
	// event id read the value routing has looked up.
	chanKey, eidKey int32

	winChanEID map[string]map[int64]*bucket
	winChan    map[string]*bucket
	winAll     *bucket
	byDataset  map[string]*bucket
	byModule   map[string]*bucket
	byCategory map[string]*bucket
	anyRules   *bucket

	// ac[slot] finds the slot's literal atoms (nil: none); needPost[needOff[a]:needOff[a+1]]
	// are the rules whose prefilter need atom a satisfies.
	ac       []*acMatcher // ASCII literals
	acU      []*acMatcher // literals with non-ASCII bytes (scanned only over non-ASCII values)
	natoms   int
	needOff  []uint32
	needPost []int32

	corr *corrState
	pool sync.Pool
}

// corrEngine is the rule set's correlation engine; nil (whose Snapshot
// writes an empty state) without correlation rules.
func (rs *ruleSet) corrEngine() *correlation.Engine {
	if rs.corr == nil {
		return nil
	}
	return rs.corr.eng
}

func newRuleSet() *ruleSet {
	rs := &ruleSet{
		slotIndex:  map[string]int{},
		keyIDs:     map[string]int32{},
		winChanEID: map[string]map[int64]*bucket{},
		winChan:    map[string]*bucket{},
		winAll:     &bucket{},
		byDataset:  map[string]*bucket{},
		byModule:   map[string]*bucket{},
		byCategory: map[string]*bucket{},
		anyRules:   &bucket{},
	}
	rs.slotKeys = append(rs.slotKeys, []string{"message"}) // keywordSlot
	rs.slotKeyIDs = append(rs.slotKeyIDs, rs.keyIDsOf([]string{"message"}))
	ids := rs.keyIDsOf([]string{"winlog.channel", "winlog.event_id"})
	rs.chanKey, rs.eidKey = ids[0], ids[1]
	rs.pool.New = func() any { return newEvalCtx(rs) }
	return rs
}

func (rs *ruleSet) slotOf(keys []string) int {
	k := strings.Join(keys, "\x00")
	if i, ok := rs.slotIndex[k]; ok {
		return i
	}
	rs.slotKeys = append(rs.slotKeys, keys)
	rs.slotKeyIDs = append(rs.slotKeyIDs, rs.keyIDsOf(keys))
	rs.slotIndex[k] = len(rs.slotKeys) - 1
	return len(rs.slotKeys) - 1
}

func (rs *ruleSet) keyIDsOf(keys []string) []int32 {
	ids := make([]int32, len(keys))
	for i, k := range keys {
		id, ok := rs.keyIDs[k]
		if !ok {
			id = int32(len(rs.keyNames))
			rs.keyIDs[k] = id
			rs.keyNames = append(rs.keyNames, k)
		}
		ids[i] = id
	}
	return ids
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
			rs.anyRules.add(e)
		case cl.windows && cl.channel == "":
			rs.winAll.add(e)
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
				getBucket(rs.winChan, cl.channel).add(e)
				continue
			}
			m := rs.winChanEID[cl.channel]
			if m == nil {
				m = map[int64]*bucket{}
				rs.winChanEID[cl.channel] = m
			}
			for _, id := range ids {
				getBucket(m, id).add(e)
			}
		case cl.dataset != "":
			getBucket(rs.byDataset, cl.dataset).add(e)
		case cl.module != "":
			getBucket(rs.byModule, cl.module).add(e)
		case cl.category != "":
			getBucket(rs.byCategory, cl.category).add(e)
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
			if it.slot != eidSlot || it.all || it.neq || it.exists >= 0 {
				continue
			}
			var ids []int64
			for _, v := range it.vals {
				if v.op != opEq || !v.isInt {
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
	rs.runCtx(c, ev, hit)
	c.ev = nil
	rs.pool.Put(c)
}

// runCtx is run with an explicit evaluation context.
func (rs *ruleSet) runCtx(c *evalCtx, ev *event.Event, hit func(c *evalCtx, r *crule)) {
	c.reset(ev)
	// Route: collect the buckets this event falls into.
	var bs [8]*bucket
	buckets := bs[:0]
	addB := func(b *bucket) {
		if b != nil && len(b.entries) > 0 {
			buckets = append(buckets, b)
		}
	}
	f := ev.Fields
	chv, _ := c.key(rs.chanKey)
	if ch, ok := chv.(string); ok {
		// Events come in runs of one channel: the last channel's routes
		// are kept, saving the lower-casing and two lookups.
		if !c.route.is(ch) {
			lch := c.lower(ch)
			c.route.set(ch, rs.winChanEID[lch], rs.winChan[lch])
		}
		if m := c.route.eids; m != nil {
			if id, ok := c.eventID(f); ok {
				addB(m[id])
			}
		}
		addB(c.route.chanB)
		addB(rs.winAll)
	} else if mod, _ := f["event.module"].(string); mod == "windows" {
		addB(rs.winAll)
	}
	// (Routing maps without rules are not consulted: an event's map is
	// often out of cache, and a miss costs as much as a hit.)
	if len(rs.byDataset) > 0 {
		if ds, ok := f["event.dataset"].(string); ok {
			addB(rs.byDataset[ds])
		}
	}
	if len(rs.byModule) > 0 {
		if mod, ok := f["event.module"].(string); ok {
			addB(rs.byModule[mod])
		}
	}
	if len(rs.byCategory) > 0 {
		switch cat := f["event.category"].(type) {
		case string:
			addB(rs.byCategory[cat])
		case []string:
			for _, x := range cat {
				if len(buckets) < cap(bs) {
					addB(rs.byCategory[x])
				}
			}
		}
	}
	addB(rs.anyRules)
	// Prefilter: mark the rules whose required literals occur in the event.
	for _, b := range buckets {
		for _, slot := range b.slots {
			c.scanSlot(slot)
		}
	}
	for _, b := range buckets {
		keys := b.keys
		for i := 0; i < len(keys); {
			k := keys[i].k
			idx := k >> 1
			if k&1 != 0 && !c.slow {
				w := c.possible[idx>>6]
				if w == 0 {
					i = int(keys[i].next)
					continue
				}
				if w&(1<<(idx&63)) == 0 {
					i++
					continue
				}
			}
			if c.seen[idx] == c.gen {
				i++
				continue
			}
			e := &b.entries[i]
			r := e.r
			i++
			if e.cl != nil && !e.cl.extraOK(c) {
				continue
			}
			c.seen[r.idx] = c.gen
			if rs.matches(c, r) {
				hit(c, r)
			}
		}
	}
}

// chanRoute is the routing of one Windows channel (as the event spells
// it). The name is copied: an event's strings may live in a buffer that is
// reused for later events.
type chanRoute struct {
	ok    bool // buf[:n] holds the name of eids and chanB
	n     int
	buf   [64]byte
	eids  map[int64]*bucket
	chanB *bucket
}

func (r *chanRoute) is(ch string) bool {
	return r.ok && len(ch) == r.n && ch == unsafe.String(&r.buf[0], r.n)
}

func (r *chanRoute) set(ch string, eids map[int64]*bucket, chanB *bucket) {
	r.ok, r.eids, r.chanB = len(ch) <= len(r.buf), eids, chanB
	r.n = copy(r.buf[:], ch)
}

// bucket is one routing target: its rules and the prefilter slots they need.
type bucket struct {
	entries []entry
	// keys[i].k is entries[i]'s rule index<<1 | 1 if the rule has a
	// prefilter need: the routing loop skips most entries reading these
	// bytes only, and whole runs of them when their word of the possible
	// set is zero.
	keys  []bkey
	slots []int
}

// bkey is a bucket entry's routing key and the index past its run.
type bkey struct{ k, next int32 }

func (b *bucket) add(e entry) { b.entries = append(b.entries, e) }

func getBucket[K comparable](m map[K]*bucket, k K) *bucket {
	b := m[k]
	if b == nil {
		b = &bucket{}
		m[k] = b
	}
	return b
}

// allBuckets lists every bucket of the rule set.
func (rs *ruleSet) allBuckets() []*bucket {
	out := []*bucket{rs.winAll, rs.anyRules}
	for _, m := range rs.winChanEID {
		for _, b := range m {
			out = append(out, b)
		}
	}
	for _, m := range []map[string]*bucket{rs.winChan, rs.byDataset, rs.byModule, rs.byCategory} {
		for _, b := range m {
			out = append(out, b)
		}
	}
	return out
}

func (c *evalCtx) eventID(f map[string]any) (int64, bool) {
	v, _ := c.key(c.rs.eidKey)
	switch v := v.(type) {
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
// match rests on. Called only after a match; the slice is the context's
// scratch, valid until the next explain.
func (rs *ruleSet) explain(c *evalCtx, r *crule) []matchedItem {
	c.items = c.items[:0]
	c.explain = &c.items
	r.cond.eval(c)
	c.explain = nil
	return c.items
}

// describe renders items as fmt's "%s %v matched %q" per item, joined by "; ".
func describe(items []matchedItem) string {
	return string(appendDescribe(nil, items))
}

func appendDescribe(b []byte, items []matchedItem) []byte {
	for i := range items {
		it := &items[i]
		if i > 0 {
			b = append(b, "; "...)
		}
		if it.head == "" {
			it.head = describeHead(it.field, it.mods, it.values)
		}
		b = append(b, it.head...)
		v := it.value
		if len(v) <= 120 {
			b = strconv.AppendQuote(b, v)
			continue
		}
		// Quote(v[:120]+"…") without building the argument: "…" is printable
		// and starts with a byte no cut UTF-8 sequence can continue with.
		b = strconv.AppendQuote(b, v[:120])
		b = append(b[:len(b)-1], "…\""...)
	}
	return b
}

// describeHead is an item's "field|mods [values] matched " (at most three
// values listed).
func describeHead(field, mods string, values []string) string {
	name := field
	if name == "" {
		name = "keywords"
	}
	if mods != "" {
		name += "|" + mods
	}
	vals := values
	if len(vals) > 3 {
		vals = append(vals[:3:3], fmt.Sprintf("… %d more", len(values)-3))
	}
	return name + " [" + strings.Join(vals, " ") + "] matched "
}
