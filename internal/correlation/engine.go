package correlation

import (
	"container/list"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

// FieldFunc resolves a Sigma field name on an event (the Sigma engine
// supplies its field mapping). It returns false when the event lacks the field.
type FieldFunc func(ev *event.Event, sigmaField string) (string, bool)

// Match is one rule match fed to the engine: a base Sigma rule match from
// the Sigma engine, or (internally) a correlation rule that fired.
type Match struct {
	RuleID, RuleName, Title string
	Event                   *event.Event
	Signal                  *signal.Signal
}

// Limits bound the engine's memory.
type Limits struct {
	// MaxGroups caps the groups (distinct group-by values) per rule; the
	// least recently touched group is evicted beyond it. Default 10000.
	MaxGroups int
	// MaxEvents caps the window entries kept per group; the oldest entry is
	// dropped beyond it. Default 10000.
	MaxEvents int
	// MaxEvidence caps the event ids a signal carries (first half and last
	// half are kept). Default 100.
	MaxEvidence int
}

// DefaultLimits are the limits NewEngine uses.
var DefaultLimits = Limits{MaxGroups: 10000, MaxEvents: 10000, MaxEvidence: 100}

// maxChainDepth bounds correlation-of-correlation recursion.
const maxChainDepth = 8

// Stats counts what the engine did; safe to read from any goroutine.
type Stats struct {
	Observed       uint64 // matches observed (base and chained)
	Fired          uint64 // correlation rules that fired (emitted or chained)
	Emitted        uint64 // signals emitted
	GroupsEvicted  uint64 // groups dropped because a rule hit MaxGroups
	EntriesDropped uint64 // window entries dropped because a group hit MaxEvents
	NoTime         uint64 // matches without an event time (cannot be windowed)
	NoGroupField   uint64 // matches lacking a group-by field (not counted, like SQL GROUP BY on NULL in Splunk stats)
	NoValue        uint64 // value_* matches whose field was absent or not numeric
}

type counters struct {
	observed, fired, emitted, evicted, dropped, noTime, noGroup, noValue atomic.Uint64
}

// Engine evaluates correlation rules over base-rule matches. Observe, Advance
// and Flush are called from one goroutine, in event order.
type Engine struct {
	rules []*crule // topological: inner rules before rules that reference them
	byRef map[string][]*crule
	field FieldFunc
	lim   Limits
	now   time.Time
	c     counters
}

type crule struct {
	*Rule
	emitOwn  bool
	closer   bool // judged at window close (upper bound or negation)
	groups   map[string]*group
	order    *list.List // of *group; front = earliest deadline
	refTitle []string
}

type entry struct {
	t   time.Time
	ids []string
	val string
	num float64
}

type group struct {
	key         string
	vals        []string
	elem        *list.Element
	start, last time.Time
	count       int // matches observed in this window (for explanations)
	entries     []entry
	distinct    map[string]int
	sum         float64
	seenAt      []time.Time // temporal: per rule position
	seenIDs     [][]string
	chainStart  []time.Time // temporal_ordered: start of the best prefix ending at each position
	chainIDs    [][]string
}

// NewEngine builds an engine with DefaultLimits. It checks the rules'
// internal consistency: unique ids and names, no reference cycles among
// correlation rules, and thresholds that fit in the window caps. References
// to rules that are not correlation rules are taken as base Sigma rules;
// checking that they exist is the caller's job.
func NewEngine(rules []*Rule, field FieldFunc) (*Engine, error) {
	return NewEngineWithLimits(rules, field, DefaultLimits)
}

// NewEngineWithLimits is NewEngine with explicit limits (zero fields take defaults).
func NewEngineWithLimits(rules []*Rule, field FieldFunc, lim Limits) (*Engine, error) {
	if field == nil {
		return nil, fmt.Errorf("correlation: nil FieldFunc")
	}
	if lim.MaxGroups <= 0 {
		lim.MaxGroups = DefaultLimits.MaxGroups
	}
	if lim.MaxEvents <= 0 {
		lim.MaxEvents = DefaultLimits.MaxEvents
	}
	if lim.MaxEvidence <= 1 {
		lim.MaxEvidence = DefaultLimits.MaxEvidence
	}
	e := &Engine{byRef: map[string][]*crule{}, field: field, lim: lim}
	byKey := map[string]*crule{} // id and name → rule
	var all []*crule
	for _, r := range rules {
		if r == nil {
			return nil, fmt.Errorf("correlation: nil rule")
		}
		cr := &crule{Rule: r, groups: map[string]*group{}, order: list.New(), refTitle: make([]string, len(r.refs))}
		for _, k := range []string{r.id, r.name} {
			if k == "" {
				continue
			}
			if o, dup := byKey[k]; dup {
				return nil, fmt.Errorf("%s:%d: correlation rule id or name %q already used at %s:%d", r.path, r.line, k, o.path, o.line)
			}
			byKey[k] = cr
		}
		cr.closer = r.typ != TemporalOrdered && (r.cond.needsWindowClose || (r.expr != nil && hasNot(r.expr)))
		if r.typ == EventCount && ((r.cond.hasLo && r.cond.lo >= float64(lim.MaxEvents)) || (r.cond.hasHi && r.cond.hi >= float64(lim.MaxEvents))) {
			return nil, fmt.Errorf("%s:%d: condition %s needs more than the %d window entries kept per group", r.path, r.line, r.cond.text, lim.MaxEvents)
		}
		all = append(all, cr)
	}
	// References among correlation rules: who is referenced, and by whom.
	referencedBy := map[*crule][]*crule{}
	for _, cr := range all {
		for _, ref := range cr.refs {
			if inner, ok := byKey[ref]; ok {
				referencedBy[inner] = append(referencedBy[inner], cr)
			}
		}
	}
	for _, cr := range all {
		parents := referencedBy[cr]
		cr.emitOwn = len(parents) == 0
		for _, p := range parents {
			if p.generate {
				cr.emitOwn = true
			}
		}
	}
	// Topological order (inner first) with cycle detection.
	state := map[*crule]int{} // 0 new, 1 visiting, 2 done
	var visit func(cr *crule, depth int) error
	visit = func(cr *crule, depth int) error {
		switch state[cr] {
		case 1:
			return fmt.Errorf("%s:%d: correlation rule %q is part of a reference cycle", cr.path, cr.line, cr.title)
		case 2:
			return nil
		}
		if depth > maxChainDepth {
			return fmt.Errorf("%s:%d: correlation chain deeper than %d", cr.path, cr.line, maxChainDepth)
		}
		state[cr] = 1
		for _, ref := range cr.refs {
			if inner, ok := byKey[ref]; ok {
				if err := visit(inner, depth+1); err != nil {
					return err
				}
			}
		}
		state[cr] = 2
		e.rules = append(e.rules, cr)
		return nil
	}
	for _, cr := range all {
		if err := visit(cr, 0); err != nil {
			return nil, err
		}
	}
	for _, cr := range e.rules {
		for _, ref := range cr.refs {
			if !containsRule(e.byRef[ref], cr) {
				e.byRef[ref] = append(e.byRef[ref], cr)
			}
		}
	}
	return e, nil
}

func containsRule(xs []*crule, r *crule) bool {
	for _, x := range xs {
		if x == r {
			return true
		}
	}
	return false
}

func hasNot(x expr) bool {
	switch v := x.(type) {
	case exprNot:
		return true
	case exprAnd:
		return hasNot(v.a) || hasNot(v.b)
	case exprOr:
		return hasNot(v.a) || hasNot(v.b)
	}
	return false
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	return Stats{
		Observed: e.c.observed.Load(), Fired: e.c.fired.Load(), Emitted: e.c.emitted.Load(),
		GroupsEvicted: e.c.evicted.Load(), EntriesDropped: e.c.dropped.Load(),
		NoTime: e.c.noTime.Load(), NoGroupField: e.c.noGroup.Load(), NoValue: e.c.noValue.Load(),
	}
}

// obs is one observation: a base match, or a correlation that fired.
type obs struct {
	m         Match
	t         time.Time
	ids       []string
	groupVals map[string]string // chained: the inner rule's group-by values
}

// Observe feeds one base-rule match (called once per match, in event order,
// from one goroutine). Signals of correlation rules that fire go to emit.
// The engine does not retain m.Event.
func (e *Engine) Observe(m Match, emit detect.Emit) {
	if m.Event == nil || m.Event.Time.IsZero() {
		e.c.noTime.Add(1)
		return
	}
	e.Advance(m.Event.Time, emit)
	e.observe(obs{m: m, t: m.Event.Time, ids: []string{m.Event.ID}}, emit, 0)
}

// Advance moves event time forward to t without a match: windows that ended
// before t are closed (rules judged at window close may emit) and idle groups
// are dropped. Observe calls it; the Sigma engine may call it per event.
func (e *Engine) Advance(t time.Time, emit detect.Emit) {
	if !t.After(e.now) {
		return
	}
	e.now = t
	for _, cr := range e.rules {
		for el := cr.order.Front(); el != nil; el = cr.order.Front() {
			g := el.Value.(*group)
			if !cr.deadline(g).Before(t) {
				break
			}
			if cr.closer {
				e.close(cr, g, emit)
			}
			cr.remove(g)
		}
	}
}

// Flush ends all open windows (end of a finite input): rules judged at
// window close emit what holds. Rules that fire eagerly never emit at Flush.
func (e *Engine) Flush(emit detect.Emit) {
	for _, cr := range e.rules { // inner rules first, so chained results count
		for el := cr.order.Front(); el != nil; el = cr.order.Front() {
			g := el.Value.(*group)
			if cr.closer {
				e.close(cr, g, emit)
			}
			cr.remove(g)
		}
	}
}

func (cr *crule) deadline(g *group) time.Time {
	if cr.closer {
		return g.start.Add(cr.timespan)
	}
	return g.last.Add(cr.timespan)
}

func (cr *crule) remove(g *group) {
	cr.order.Remove(g.elem)
	delete(cr.groups, g.key)
}

func (e *Engine) observe(o obs, emit detect.Emit, depth int) {
	e.c.observed.Add(1)
	cands := e.byRef[o.m.RuleID]
	if o.m.RuleName != "" && o.m.RuleName != o.m.RuleID {
		for _, cr := range e.byRef[o.m.RuleName] {
			if !containsRule(cands, cr) {
				cands = append(cands[:len(cands):len(cands)], cr)
			}
		}
	}
	for _, cr := range cands {
		e.observeRule(cr, o, emit, depth)
	}
}

// fieldFor applies the rule's aliases: the field name to read on events of the matched rule.
func (cr *crule) fieldFor(name string, m *Match) string {
	if a, ok := cr.aliases[name]; ok {
		if f, ok := a[m.RuleName]; ok && m.RuleName != "" {
			return f
		}
		if f, ok := a[m.RuleID]; ok {
			return f
		}
	}
	return name
}

func (e *Engine) lookup(cr *crule, o *obs, name string) (string, bool) {
	f := cr.fieldFor(name, &o.m)
	if v, ok := o.groupVals[f]; ok {
		return v, true
	}
	if v, ok := o.groupVals[name]; ok {
		return v, true
	}
	if o.m.Event == nil {
		return "", false
	}
	v, ok := e.field(o.m.Event, f)
	return v, ok && v != ""
}

func (e *Engine) observeRule(cr *crule, o obs, emit detect.Emit, depth int) {
	vals := make([]string, len(cr.groupBy))
	for i, gb := range cr.groupBy {
		v, ok := e.lookup(cr, &o, gb)
		if !ok {
			e.c.noGroup.Add(1)
			return
		}
		vals[i] = v
	}
	var ent entry
	switch cr.typ {
	case ValueCount:
		parts := make([]string, len(cr.fields))
		for i, f := range cr.fields {
			v, ok := e.lookup(cr, &o, f)
			if !ok {
				e.c.noValue.Add(1)
				return
			}
			parts[i] = v
		}
		ent.val = strings.Join(parts, "\x00")
	case ValueSum, ValueAvg, ValueMin, ValueMax:
		v, ok := e.lookup(cr, &o, cr.fields[0])
		if !ok {
			e.c.noValue.Add(1)
			return
		}
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			e.c.noValue.Add(1)
			return
		}
		ent.num = x
	}
	ent.t, ent.ids = o.t, o.ids
	for k, ref := range cr.refs {
		if (ref == o.m.RuleID || ref == o.m.RuleName) && cr.refTitle[k] == "" {
			cr.refTitle[k] = o.m.Title
		}
	}

	key := strings.Join(vals, "\x00")
	g := cr.groups[key]
	if g != nil && cr.closer && o.t.Sub(g.start) > cr.timespan {
		// The group's tumbling window ended: judge it, then start a new one.
		e.close(cr, g, emit)
		cr.remove(g)
		g = nil
	}
	if g == nil {
		if len(cr.groups) >= e.lim.MaxGroups {
			old := cr.order.Front().Value.(*group)
			cr.remove(old)
			e.c.evicted.Add(1)
		}
		g = &group{key: key, vals: vals, start: o.t}
		g.elem = cr.order.PushBack(g)
		cr.groups[key] = g
	} else if !cr.closer {
		cr.order.MoveToBack(g.elem)
	}
	if o.t.After(g.last) {
		g.last = o.t
	}
	g.count++

	switch cr.typ {
	case Temporal:
		e.stepTemporal(cr, g, o, emit, depth)
	case TemporalOrdered:
		e.stepOrdered(cr, g, o, emit, depth)
	default:
		e.stepWindow(cr, g, ent, o.m.Event, emit, depth)
	}
}

func (e *Engine) stepWindow(cr *crule, g *group, ent entry, ev *event.Event, emit detect.Emit, depth int) {
	if !cr.closer {
		// Sliding window: forget entries older than timespan before ent.
		i := 0
		for i < len(g.entries) && ent.t.Sub(g.entries[i].t) > cr.timespan {
			g.forget(cr.typ, g.entries[i])
			i++
		}
		g.entries = g.entries[i:]
		if len(g.entries) > 0 {
			g.start = g.entries[0].t
		} else {
			g.start = ent.t
		}
	}
	if len(g.entries) >= e.lim.MaxEvents {
		g.forget(cr.typ, g.entries[0])
		g.entries = g.entries[1:]
		e.c.dropped.Add(1)
	}
	g.entries = append(g.entries, ent)
	switch cr.typ {
	case ValueCount:
		if g.distinct == nil {
			g.distinct = map[string]int{}
		}
		g.distinct[ent.val]++
	case ValueSum, ValueAvg:
		g.sum += ent.num
	}
	if cr.closer {
		return
	}
	if v := g.value(cr.typ); cr.cond.holds(v) {
		e.fire(cr, g, v, g.evidence(), ev, emit, depth)
		g.reset()
	}
}

func (g *group) forget(t Type, x entry) {
	switch t {
	case ValueCount:
		if g.distinct[x.val]--; g.distinct[x.val] <= 0 {
			delete(g.distinct, x.val)
		}
	case ValueSum, ValueAvg:
		g.sum -= x.num
	}
}

func (g *group) value(t Type) float64 {
	switch t {
	case EventCount:
		return float64(len(g.entries))
	case ValueCount:
		return float64(len(g.distinct))
	case ValueSum:
		return g.sum
	case ValueAvg:
		if len(g.entries) == 0 {
			return 0
		}
		return g.sum / float64(len(g.entries))
	case ValueMin, ValueMax:
		if len(g.entries) == 0 {
			return 0
		}
		m := g.entries[0].num
		for _, x := range g.entries[1:] {
			if (t == ValueMin && x.num < m) || (t == ValueMax && x.num > m) {
				m = x.num
			}
		}
		return m
	case Temporal:
		n := 0
		for _, s := range g.seenAt {
			if !s.IsZero() {
				n++
			}
		}
		return float64(n)
	}
	return 0
}

func (g *group) evidence() []string {
	var ids []string
	for _, x := range g.entries {
		ids = append(ids, x.ids...)
	}
	return ids
}

func (g *group) reset() {
	g.entries, g.distinct, g.sum, g.count = nil, nil, 0, 0
	clear(g.seenAt)
	clear(g.seenIDs)
	clear(g.chainStart)
	clear(g.chainIDs)
}

func (e *Engine) stepTemporal(cr *crule, g *group, o obs, emit detect.Emit, depth int) {
	if g.seenAt == nil {
		g.seenAt = make([]time.Time, len(cr.refs))
		g.seenIDs = make([][]string, len(cr.refs))
	}
	for k, ref := range cr.refs {
		if ref == o.m.RuleID || ref == o.m.RuleName {
			g.seenAt[k], g.seenIDs[k] = o.t, o.ids
		}
	}
	if cr.closer {
		return
	}
	for k, s := range g.seenAt {
		if !s.IsZero() && o.t.Sub(s) > cr.timespan {
			g.seenAt[k], g.seenIDs[k] = time.Time{}, nil
		}
	}
	if v, ok := e.temporalHolds(cr, g); ok {
		e.fire(cr, g, v, g.temporalEvidence(), o.m.Event, emit, depth)
		g.reset()
	}
}

func (e *Engine) temporalHolds(cr *crule, g *group) (float64, bool) {
	v := g.value(Temporal)
	switch {
	case cr.expr != nil:
		return v, cr.expr.eval(func(name string) bool {
			for k, ref := range cr.refs {
				if ref == name {
					return !g.seenAt[k].IsZero()
				}
			}
			return false
		})
	case cr.cond.set:
		return v, cr.cond.holds(v)
	}
	return v, int(v) == len(cr.refs)
}

func (g *group) temporalEvidence() []string {
	type seen struct {
		t   time.Time
		ids []string
	}
	var ss []seen
	for k, t := range g.seenAt {
		if !t.IsZero() {
			ss = append(ss, seen{t, g.seenIDs[k]})
		}
	}
	sort.SliceStable(ss, func(i, j int) bool { return ss[i].t.Before(ss[j].t) })
	var ids []string
	for _, s := range ss {
		ids = append(ids, s.ids...)
	}
	return ids
}

func (e *Engine) stepOrdered(cr *crule, g *group, o obs, emit detect.Emit, depth int) {
	n := len(cr.refs)
	if g.chainStart == nil {
		g.chainStart = make([]time.Time, n)
		g.chainIDs = make([][]string, n)
	}
	// Walk positions from the end so one match advances a chain by one step only.
	for k := n - 1; k >= 0; k-- {
		if cr.refs[k] != o.m.RuleID && cr.refs[k] != o.m.RuleName {
			continue
		}
		if k == 0 {
			g.chainStart[0], g.chainIDs[0] = o.t, o.ids
			continue
		}
		ps := g.chainStart[k-1]
		if ps.IsZero() || o.t.Sub(ps) > cr.timespan {
			continue
		}
		if g.chainStart[k].IsZero() || !ps.Before(g.chainStart[k]) || o.t.Sub(g.chainStart[k]) > cr.timespan {
			g.chainStart[k] = ps
			g.chainIDs[k] = append(append([]string(nil), g.chainIDs[k-1]...), o.ids...)
		}
	}
	if s := g.chainStart[n-1]; !s.IsZero() && o.t.Sub(s) <= cr.timespan {
		g.start = s
		e.fire(cr, g, float64(n), g.chainIDs[n-1], o.m.Event, emit, depth)
		g.reset()
	}
}

// close judges a group whose window ended (rules with an upper bound or a negation).
func (e *Engine) close(cr *crule, g *group, emit detect.Emit) {
	switch cr.typ {
	case Temporal:
		if v, ok := e.temporalHolds(cr, g); ok {
			e.fire(cr, g, v, g.temporalEvidence(), nil, emit, 0)
		}
	case TemporalOrdered:
	default:
		if len(g.entries) == 0 {
			return
		}
		if v := g.value(cr.typ); cr.cond.holds(v) {
			e.fire(cr, g, v, g.evidence(), nil, emit, 0)
		}
	}
}

func (e *Engine) fire(cr *crule, g *group, v float64, ids []string, ev *event.Event, emit detect.Emit, depth int) {
	e.c.fired.Add(1)
	total := len(ids)
	first, last := "", ""
	if total > 0 {
		first, last = ids[0], ids[total-1]
	}
	if total > e.lim.MaxEvidence {
		h := e.lim.MaxEvidence / 2
		ids = append(append([]string(nil), ids[:h]...), ids[total-(e.lim.MaxEvidence-h):]...)
	} else {
		ids = append([]string(nil), ids...)
	}
	group := make(map[string]string, len(cr.groupBy))
	for i, f := range cr.groupBy {
		group[f] = g.vals[i]
	}
	details := map[string]any{
		"correlation_type": string(cr.typ),
		"timespan":         formatSpan(cr.timespan),
		"group":            group,
		"matches":          g.count,
		"window_start":     g.start.UTC().Format(time.RFC3339Nano),
		"evidence_total":   total,
		"rules":            cr.matchedTitles(),
	}
	if cr.cond.set {
		details["condition"] = cr.cond.text
		details["value"] = v
	}
	if len(cr.fields) > 0 {
		details["field"] = strings.Join(cr.fields, ",")
	}
	if cr.typ == ValueCount {
		vals := make([]string, 0, len(g.distinct))
		for k := range g.distinct {
			vals = append(vals, strings.ReplaceAll(k, "\x00", ","))
		}
		sort.Strings(vals)
		if len(vals) > 20 {
			vals = vals[:20]
		}
		details["distinct_values"] = vals
	}
	sig := signal.Signal{
		ID:          signal.DeriveID("sigma", cr.id, first, last, g.start.UTC().Format(time.RFC3339Nano)),
		Detector:    "sigma",
		Layer:       signal.LayerStateful,
		RuleID:      cr.id,
		RuleVersion: cr.version,
		Title:       cr.title,
		Level:       cr.level,
		Score:       1,
		Tags:        append([]string(nil), cr.tags...),
		Techniques:  append([]string(nil), cr.techniques...),
		Entities:    entities(cr.groupBy, g.vals, cr.aliases),
		Time:        g.last,
		EventIDs:    ids,
		Explanation: cr.explain(g, v),
		Details:     details,
	}
	if cr.emitOwn {
		e.c.emitted.Add(1)
		emit(sig)
	}
	if depth+1 < maxChainDepth && (len(e.byRef[cr.id]) > 0 || (cr.name != "" && len(e.byRef[cr.name]) > 0)) {
		// Feed the firing to rules that reference this one. Group values
		// travel with it; the event only when it is the one that completed
		// the window (a window closed by time has no event of its own).
		gv := make(map[string]string, len(group))
		for k, val := range group {
			gv[k] = val
		}
		sigCopy := sig
		sigCopy.EventIDs = append([]string(nil), sig.EventIDs...)
		e.observe(obs{
			m:         Match{RuleID: cr.id, RuleName: cr.name, Title: cr.title, Event: ev, Signal: &sigCopy},
			t:         g.last,
			ids:       sigCopy.EventIDs,
			groupVals: gv,
		}, emit, depth+1)
	}
}

func (cr *crule) matchedTitles() []string {
	out := make([]string, 0, len(cr.refs))
	for k, ref := range cr.refs {
		if t := cr.refTitle[k]; t != "" {
			out = append(out, t)
		} else {
			out = append(out, ref)
		}
	}
	return out
}

func formatSpan(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func (cr *crule) explain(g *group, v float64) string {
	titles := cr.matchedTitles()
	q := make([]string, len(titles))
	for i, t := range titles {
		q[i] = strconv.Quote(t)
	}
	who := groupPhrase(cr.groupBy, g.vals, cr.aliases)
	span := formatSpan(cr.timespan)
	matching := strings.Join(q, " or ")
	switch cr.typ {
	case EventCount:
		return fmt.Sprintf("%s events matching %s%s within %s (threshold %s)", fmtNum(v), matching, who, span, cr.cond.text)
	case ValueCount:
		return fmt.Sprintf("%s distinct %s values in events matching %s%s within %s (threshold %s)", fmtNum(v), strings.Join(cr.fields, "+"), matching, who, span, cr.cond.text)
	case ValueSum, ValueAvg, ValueMin, ValueMax:
		op := strings.TrimPrefix(string(cr.typ), "value_")
		if op == "avg" {
			op = "average"
		}
		return fmt.Sprintf("%s of %s is %s over %d events matching %s%s within %s (threshold %s)", op, cr.fields[0], fmtNum(v), len(g.entries), matching, who, span, cr.cond.text)
	case Temporal:
		return fmt.Sprintf("%s matched%s within %s", strings.Join(q, ", "), who, span)
	case TemporalOrdered:
		return fmt.Sprintf("%s matched in that order%s within %s", strings.Join(q, " then "), who, span)
	}
	return cr.title
}

// entityKind guesses an entity kind from a group-by field name and value.
func entityKind(name, value string, aliases map[string]map[string]string) string {
	names := []string{name}
	for _, f := range aliases[name] {
		names = append(names, f)
	}
	sort.Strings(names[1:])
	for _, n := range names {
		l := strings.ToLower(n)
		switch {
		case strings.Contains(l, "user") || strings.Contains(l, "account"):
			return "user"
		case strings.Contains(l, "host") || strings.Contains(l, "computer") || strings.Contains(l, "workstation") || strings.Contains(l, "machine"):
			return "host"
		case strings.HasSuffix(l, "ip") || strings.Contains(l, "ipaddress") || strings.Contains(l, ".ip") || strings.Contains(l, "_ip") || strings.Contains(l, "address") || strings.Contains(l, "addr"):
			return "ip"
		}
	}
	if _, err := netip.ParseAddr(value); err == nil {
		return "ip"
	}
	return "field:" + name
}

func entities(groupBy, vals []string, aliases map[string]map[string]string) []signal.Entity {
	var out []signal.Entity
	for i, f := range groupBy {
		en := signal.Entity{Kind: entityKind(f, vals[i], aliases), Value: vals[i]}
		dup := false
		for _, x := range out {
			dup = dup || x == en
		}
		if !dup {
			out = append(out, en)
		}
	}
	return out
}

func groupPhrase(groupBy, vals []string, aliases map[string]map[string]string) string {
	var b strings.Builder
	for i, f := range groupBy {
		v := vals[i]
		switch k := entityKind(f, v, aliases); k {
		case "user":
			b.WriteString(" for user " + v)
		case "host":
			b.WriteString(" on host " + v)
		case "ip":
			l := strings.ToLower(f)
			if strings.Contains(l, "dest") || strings.Contains(l, "dst") || strings.Contains(l, "target") || strings.Contains(l, "remote") {
				b.WriteString(" to " + v)
			} else {
				b.WriteString(" from " + v)
			}
		default:
			b.WriteString(" with " + f + "=" + v)
		}
	}
	return b.String()
}
