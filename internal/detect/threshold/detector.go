package threshold

import (
	"container/list"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	mathbits "math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

// Kind is the detector kind and signal Detector name.
const Kind = "threshold"

func init() {
	detect.Register(detect.Spec{
		Kind:    Kind,
		Layer:   signal.LayerStateful,
		Summary: "leaky-bucket thresholds per entity (brute force, spraying, scans)",
		New: func(o detect.Options) (detect.Detector, error) {
			opts := Options{Paths: o.RulePaths}
			for k, v := range o.Config {
				n, ok := toInt(v)
				switch {
				case k == "max_buckets" && ok:
					opts.MaxBuckets = n
				case k == "max_evidence" && ok:
					opts.MaxEvidence = n
				case k == "max_distinct" && ok:
					opts.MaxDistinct = n
				default:
					return nil, fmt.Errorf("threshold: unknown or non-integer config key %q (want max_buckets, max_evidence, max_distinct)", k)
				}
			}
			return New(opts)
		},
	})
}

func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case float64:
		if x == math.Trunc(x) && x >= 0 && x < 1<<31 {
			return int(x), true
		}
	}
	return 0, false
}

// Options configure a Detector. Zero values take defaults.
type Options struct {
	// Paths are rule files or folders (required).
	Paths []string
	// MaxBuckets caps live buckets over all rules; beyond it the least
	// recently touched bucket is evicted (and counted). Default 100000.
	MaxBuckets int
	// MaxEvidence caps the event ids a signal carries. Default 100.
	MaxEvidence int
	// MaxDistinct caps the distinct values a bucket remembers. Default 10000.
	MaxDistinct int
	// Logger receives load and reload messages. Default slog.Default().
	Logger *slog.Logger
}

// Stats counts what the detector did; safe to read from any goroutine.
type Stats struct {
	Buckets        int    // live buckets
	Matched        uint64 // events that passed a rule's filter
	Overflows      uint64 // signals emitted
	Blackholed     uint64 // matching events ignored during cooldown
	Evicted        uint64 // buckets evicted at MaxBuckets
	NoTime         uint64 // matching events without an event time
	NoGroupField   uint64 // matching events lacking a group_by or distinct field
	DistinctCapped uint64 // distinct values not remembered because a bucket was full
}

// Detector is the threshold detector. Detect is called from one goroutine
// (see detect.Detector); Reload and Stats may be called from others.
type Detector struct {
	opts    Options
	log     *slog.Logger
	mu      sync.Mutex // guards rules and buckets between Detect and Reload
	rules   []*Rule
	buckets map[string]*bucket
	lru     *list.List // of *bucket, front = least recently touched
	nBucket atomic.Int64
	// Rules share fields (event.dataset, event.action, source.ip…): each is
	// read from an event once per Detect. fkeys are the distinct fields the
	// rules read (filter, exists, exclude, group_by, distinct); idx[i] holds
	// rules[i]'s indexes into fkeys.
	fkeys []string
	idx   []ruleIdx
	// filters index the rules' filters by field: an event's value of each
	// field is read and compared once for all rules, narrowing a bit set
	// of candidate rules (cand), instead of once per rule.
	filters []keyFilter
	all     []uint64 // every rule
	cand    []uint64 // scratch: candidate rules, guarded by mu
	acc     []uint64 // scratch: rules accepting a value, guarded by mu
	mval    []any    // per Detect: value of fkeys[i]
	mstate  []uint8  // per Detect: 0 not read, 1 present, 2 absent
	vals    []string // scratch for pour, guarded by mu
	key     []byte   // scratch for pour, guarded by mu
	c       struct {
		matched, overflows, blackholed, evicted, noTime, noGroup, distinctCapped atomic.Uint64
	}
}

// keyFilter is one field that rules filter on: the values they accept,
// with the set of rules accepting each (bit i is rules[i]).
type keyFilter struct {
	j     int      // index into fkeys
	users []uint64 // rules filtering on this field
	vals  []string
	masks [][]uint64 // parallel to vals
	// users1 and masks1 are users and masks as single words, for the usual
	// rule set of at most 64 rules (candidates1).
	users1 uint64
	masks1 []uint64
}

// accept ORs into acc the rules that accept value s.
func (k *keyFilter) accept(s string, acc []uint64) {
	for i, v := range k.vals {
		if v == s {
			for w, m := range k.masks[i] {
				acc[w] |= m
			}
		}
	}
}

// accept1 is accept for at most 64 rules.
func (k *keyFilter) accept1(s string) (acc uint64) {
	for i, v := range k.vals {
		if v == s {
			acc |= k.masks1[i]
		}
	}
	return acc
}

// ruleIdx is one rule's fields as indexes into Detector.fkeys.
type ruleIdx struct {
	filter   []int      // parallel to Rule.filterKeys
	exists   []int      // parallel to Rule.Exists
	exclude  []int      // parallel to excludeVals
	exclVals [][]string // Rule.Exclude's values
	groupBy  []int      // parallel to Rule.GroupBy
	distinct int        // -1 without Rule.Distinct
}

var (
	_ detect.Detector = (*Detector)(nil)
	_ detect.Reloader = (*Detector)(nil)
)

type bucket struct {
	key      string
	rule     *Rule
	vals     []string
	elem     *list.Element
	level    float64
	updated  time.Time // last leak computation
	first    time.Time // first pour since the bucket was last empty
	last     time.Time
	poured   int // units poured since empty
	events   int // matching events since empty (≥ poured for distinct rules)
	headIDs  []string
	tailIDs  []string // ring of the most recent ids
	tailPos  int
	distinct map[string]struct{}
	coolTill time.Time
}

// New loads the rules in opts.Paths and returns a detector.
func New(opts Options) (*Detector, error) {
	if len(opts.Paths) == 0 {
		return nil, fmt.Errorf("threshold: no rule paths")
	}
	if opts.MaxBuckets <= 0 {
		opts.MaxBuckets = 100000
	}
	if opts.MaxEvidence <= 1 {
		opts.MaxEvidence = 100
	}
	if opts.MaxDistinct <= 0 {
		opts.MaxDistinct = 10000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	rules, err := LoadRules(opts.Paths...)
	if err != nil {
		return nil, err
	}
	d := &Detector{opts: opts, log: opts.Logger, buckets: map[string]*bucket{}, lru: list.New()}
	d.setRules(rules)
	d.log.Info("threshold rules loaded", "rules", len(rules))
	return d, nil
}

// NewFromRules builds a detector over already-loaded rules (tests, rules check).
func NewFromRules(rules []*Rule, opts Options) *Detector {
	if opts.MaxBuckets <= 0 {
		opts.MaxBuckets = 100000
	}
	if opts.MaxEvidence <= 1 {
		opts.MaxEvidence = 100
	}
	if opts.MaxDistinct <= 0 {
		opts.MaxDistinct = 10000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	d := &Detector{opts: opts, log: opts.Logger, buckets: map[string]*bucket{}, lru: list.New()}
	d.setRules(rules)
	return d
}

// Name returns "threshold".
func (d *Detector) Name() string { return Kind }

// Rules returns the loaded rules.
func (d *Detector) Rules() []*Rule {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*Rule(nil), d.rules...)
}

// Reload re-reads the rule paths. On error the old rules stay. Buckets of
// rules whose id and content are unchanged keep their state.
func (d *Detector) Reload(ctx context.Context) error {
	rules, err := LoadRules(d.opts.Paths...)
	if err != nil {
		return fmt.Errorf("threshold reload: %w", err)
	}
	keep := map[*Rule]*Rule{} // old → new, for unchanged rules
	d.mu.Lock()
	defer d.mu.Unlock()
	old := map[string]*Rule{}
	for _, r := range d.rules {
		old[r.ID] = r
	}
	for _, r := range rules {
		if o, ok := old[r.ID]; ok && o.Version == r.Version {
			keep[o] = r
		}
	}
	for el := d.lru.Front(); el != nil; {
		next := el.Next()
		b := el.Value.(*bucket)
		if nr, ok := keep[b.rule]; ok {
			b.rule = nr
		} else {
			d.remove(b)
		}
		el = next
	}
	d.setRules(rules)
	d.log.Info("threshold rules reloaded", "rules", len(rules), "buckets_kept", len(d.buckets))
	return nil
}

// Stats returns the detector's counters.
func (d *Detector) Stats() Stats {
	return Stats{
		Buckets: int(d.nBucket.Load()), Matched: d.c.matched.Load(), Overflows: d.c.overflows.Load(),
		Blackholed: d.c.blackholed.Load(), Evicted: d.c.evicted.Load(), NoTime: d.c.noTime.Load(),
		NoGroupField: d.c.noGroup.Load(), DistinctCapped: d.c.distinctCapped.Load(),
	}
}

// Detect pours ev into the bucket of every rule it matches.
func (d *Detector) Detect(ctx context.Context, ev *event.Event, emit detect.Emit) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.mstate)
	defer clear(d.mval) // do not keep the event's values alive
	if len(d.all) == 1 {
		for bits := d.candidates1(ev); bits != 0; bits &= bits - 1 {
			i := mathbits.TrailingZeros64(bits)
			d.detectRule(i, d.rules[i], ev, emit)
		}
	} else {
		for w, bits := range d.candidates(ev) {
			for ; bits != 0; bits &= bits - 1 {
				i := w*64 + mathbits.TrailingZeros64(bits)
				d.detectRule(i, d.rules[i], ev, emit)
			}
		}
	}
	d.expire(ev.Time)
	return nil
}

// candidates1 is candidates for at most 64 rules, in one word.
func (d *Detector) candidates1(ev *event.Event) uint64 {
	cand := d.all[0]
	for fi := range d.filters {
		k := &d.filters[fi]
		if cand&k.users1 == 0 {
			continue // no candidate left reads this field
		}
		var acc uint64
		if v, ok := d.field(k.j, ev); ok {
			// As valueMatches: any element of a list, else the value as text.
			switch x := v.(type) {
			case string:
				acc = k.accept1(x)
			case []string:
				for _, s := range x {
					acc |= k.accept1(s)
				}
			default:
				acc = k.accept1(event.ValueString(v))
			}
		}
		if cand &= acc | ^k.users1; cand == 0 {
			break
		}
	}
	return cand
}

// candidates returns the rules whose filters ev passes (in d.cand).
func (d *Detector) candidates(ev *event.Event) []uint64 {
	cand := d.cand
	copy(cand, d.all)
	for fi := range d.filters {
		k := &d.filters[fi]
		live := false
		for w := range cand {
			if cand[w]&k.users[w] != 0 {
				live = true
				break
			}
		}
		if !live {
			continue // no candidate left reads this field
		}
		acc := d.acc
		clear(acc)
		if v, ok := d.field(k.j, ev); ok {
			// As valueMatches: any element of a list, else the value as text.
			if l, isList := v.([]string); isList {
				for _, s := range l {
					k.accept(s, acc)
				}
			} else {
				k.accept(event.ValueString(v), acc)
			}
		}
		left := uint64(0)
		for w := range cand {
			cand[w] &= acc[w] | ^k.users[w]
			left |= cand[w]
		}
		if left == 0 {
			break
		}
	}
	return cand
}

// detectRule pours ev into rules[i] (r) when it passes the rule's exists
// and exclude conditions (its filter passed).
func (d *Detector) detectRule(i int, r *Rule, ev *event.Event, emit detect.Emit) {
	if !d.passes(i, ev) {
		return
	}
	d.c.matched.Add(1)
	if ev.Time.IsZero() {
		d.c.noTime.Add(1)
		return
	}
	d.pour(i, r, ev, emit)
}

func valueMatches(v any, want []string) bool {
	if l, ok := v.([]string); ok {
		for _, s := range l {
			for _, w := range want {
				if s == w {
					return true
				}
			}
		}
		return false
	}
	s := event.ValueString(v)
	for _, w := range want {
		if s == w {
			return true
		}
	}
	return false
}

// setRules installs rules and indexes the fields they read.
func (d *Detector) setRules(rules []*Rule) {
	d.rules, d.fkeys, d.idx = rules, nil, make([]ruleIdx, len(rules))
	at := map[string]int{}
	index := func(k string) int {
		j, ok := at[k]
		if !ok {
			j = len(d.fkeys)
			at[k] = j
			d.fkeys = append(d.fkeys, k)
		}
		return j
	}
	for i, r := range rules {
		x := &d.idx[i]
		for _, k := range r.filterKeys {
			x.filter = append(x.filter, index(k))
		}
		for _, k := range r.Exists {
			x.exists = append(x.exists, index(k))
		}
		for _, k := range slices.Sorted(maps.Keys(r.Exclude)) {
			x.exclude = append(x.exclude, index(k))
			x.exclVals = append(x.exclVals, r.Exclude[k])
		}
		for _, k := range r.GroupBy {
			x.groupBy = append(x.groupBy, index(k))
		}
		x.distinct = -1
		if r.Distinct != "" {
			x.distinct = index(r.Distinct)
		}
	}
	d.mval, d.mstate = make([]any, len(d.fkeys)), make([]uint8, len(d.fkeys))
	d.indexFilters()
}

// indexFilters builds d.filters and the bit sets. Fields that more rules
// filter on come first: they rule out the most candidates per read.
func (d *Detector) indexFilters() {
	words := (len(d.rules) + 63) / 64
	bit := func(set []uint64, i int) { set[i/64] |= 1 << (i % 64) }
	d.all, d.cand, d.acc = make([]uint64, words), make([]uint64, words), make([]uint64, words)
	byKey := map[int]*keyFilter{}
	for i, r := range d.rules {
		bit(d.all, i)
		for fi, j := range d.idx[i].filter {
			k := byKey[j]
			if k == nil {
				k = &keyFilter{j: j, users: make([]uint64, words)}
				byKey[j] = k
			}
			bit(k.users, i)
			for _, v := range r.filterVals[fi] {
				at := slices.Index(k.vals, v)
				if at < 0 {
					at = len(k.vals)
					k.vals = append(k.vals, v)
					k.masks = append(k.masks, make([]uint64, words))
				}
				bit(k.masks[at], i)
			}
		}
	}
	d.filters = d.filters[:0]
	for _, k := range byKey {
		k.users1 = k.users[0]
		for _, m := range k.masks {
			k.masks1 = append(k.masks1, m[0])
		}
		d.filters = append(d.filters, *k)
	}
	count := func(set []uint64) (n int) {
		for _, w := range set {
			n += mathbits.OnesCount64(w)
		}
		return n
	}
	sort.Slice(d.filters, func(a, b int) bool {
		na, nb := count(d.filters[a].users), count(d.filters[b].users)
		if na != nb {
			return na > nb
		}
		return d.fkeys[d.filters[a].j] < d.fkeys[d.filters[b].j]
	})
}

// field returns the event's value of field fkeys[j], reading the event map
// at most once per Detect.
func (d *Detector) field(j int, ev *event.Event) (any, bool) {
	switch d.mstate[j] {
	case 1:
		return d.mval[j], true
	case 2:
		return nil, false
	}
	v, ok := ev.Fields[d.fkeys[j]]
	if ok {
		d.mval[j], d.mstate[j] = v, 1
	} else {
		d.mstate[j] = 2
	}
	return v, ok
}

// fieldString is field rendered as text, as event.GetString renders it.
func (d *Detector) fieldString(j int, ev *event.Event) (string, bool) {
	v, ok := d.field(j, ev)
	if !ok {
		return "", false
	}
	return event.ValueString(v), true
}

// passes reports whether ev passes rules[ri]'s exists and exclude
// conditions; its filter is checked by candidates.
func (d *Detector) passes(ri int, ev *event.Event) bool {
	x := &d.idx[ri]
	for _, j := range x.exists {
		if v, ok := d.field(j, ev); !ok || event.ValueString(v) == "" {
			return false
		}
	}
	for i, j := range x.exclude {
		if v, ok := d.field(j, ev); ok && valueMatches(v, x.exclVals[i]) {
			return false
		}
	}
	return true
}

func (d *Detector) pour(ri int, r *Rule, ev *event.Event, emit detect.Emit) {
	// vals and the bucket key are built in scratch space: most events pour
	// into an existing bucket, and only a new bucket keeps copies.
	x := &d.idx[ri]
	vals := d.vals[:0]
	for _, j := range x.groupBy {
		v, ok := d.fieldString(j, ev)
		if !ok || v == "" {
			d.c.noGroup.Add(1)
			return
		}
		vals = append(vals, v)
	}
	d.vals = vals
	var dv string
	if x.distinct >= 0 {
		v, ok := d.fieldString(x.distinct, ev)
		if !ok || v == "" {
			d.c.noGroup.Add(1)
			return
		}
		dv = v
	}
	t := ev.Time
	kb := appendBucketKey(d.key[:0], r.ID, vals)
	d.key = kb
	b := d.buckets[string(kb)]
	if b == nil {
		key := string(kb)
		vals := slices.Clone(vals)
		if len(d.buckets) >= d.opts.MaxBuckets {
			d.remove(d.lru.Front().Value.(*bucket))
			d.c.evicted.Add(1)
		}
		b = &bucket{key: key, rule: r, vals: vals, updated: t}
		b.elem = d.lru.PushBack(b)
		d.buckets[key] = b
		d.nBucket.Add(1)
	} else {
		d.lru.MoveToBack(b.elem)
	}
	if t.Before(b.coolTill) {
		d.c.blackholed.Add(1)
		return
	}
	if t.After(b.updated) {
		b.level -= float64(t.Sub(b.updated)) / float64(r.LeakSpeed)
		b.updated = t
		if b.level <= 0 {
			b.empty()
		}
	}
	b.events++
	if b.events == 1 {
		b.first = t
	}
	if t.After(b.last) {
		b.last = t
	}
	if r.Distinct != "" {
		if _, seen := b.distinct[dv]; seen {
			return
		}
		if len(b.distinct) >= d.opts.MaxDistinct {
			d.c.distinctCapped.Add(1)
		} else {
			if b.distinct == nil {
				b.distinct = map[string]struct{}{}
			}
			b.distinct[dv] = struct{}{}
		}
	}
	b.level++
	b.poured++
	b.addID(ev.ID, d.opts.MaxEvidence)
	if b.level > float64(r.Capacity) {
		d.c.overflows.Add(1)
		emit(d.signal(b))
		b.empty()
		b.coolTill = t.Add(r.Cooldown)
	}
}

func (b *bucket) empty() {
	b.level, b.poured, b.events = 0, 0, 0
	b.headIDs, b.tailIDs, b.tailPos = nil, nil, 0
	b.distinct = nil
}

// addID keeps the first half of the evidence cap and a ring of the most recent ids.
func (b *bucket) addID(id string, maxIDs int) {
	half := maxIDs / 2
	if len(b.headIDs) < half {
		b.headIDs = append(b.headIDs, id)
		return
	}
	tail := maxIDs - half
	if len(b.tailIDs) < tail {
		b.tailIDs = append(b.tailIDs, id)
		return
	}
	b.tailIDs[b.tailPos] = id
	b.tailPos = (b.tailPos + 1) % tail
}

func (b *bucket) evidence() []string {
	ids := append([]string(nil), b.headIDs...)
	ids = append(ids, b.tailIDs[b.tailPos:]...)
	return append(ids, b.tailIDs[:b.tailPos]...)
}

func (d *Detector) remove(b *bucket) {
	d.lru.Remove(b.elem)
	delete(d.buckets, b.key)
	d.nBucket.Add(-1)
}

// expire drops buckets at the LRU front that are empty by now and not cooling down.
func (d *Detector) expire(now time.Time) {
	for el := d.lru.Front(); el != nil; el = d.lru.Front() {
		b := el.Value.(*bucket)
		emptyAt := b.updated.Add(time.Duration(b.level * float64(b.rule.LeakSpeed)))
		if !emptyAt.Before(now) || !b.coolTill.Before(now) {
			return
		}
		d.remove(b)
	}
}

func (d *Detector) signal(b *bucket) signal.Signal {
	r := b.rule
	ids := b.evidence()
	group := make(map[string]string, len(r.GroupBy))
	for i, f := range r.GroupBy {
		group[f] = b.vals[i]
	}
	dur := b.last.Sub(b.first)
	details := map[string]any{
		"count":      b.poured,
		"events":     b.events,
		"capacity":   r.Capacity,
		"leak_speed": r.LeakSpeed.String(),
		"cooldown":   r.Cooldown.String(),
		"duration":   shortDuration(dur),
		"group":      group,
		"first_seen": b.first.UTC().Format(time.RFC3339Nano),
		"last_seen":  b.last.UTC().Format(time.RFC3339Nano),
	}
	what := r.Explain
	if what == "" {
		what = "events matching " + strconv.Quote(r.Title)
	}
	count := strconv.Itoa(b.poured)
	if r.Distinct != "" {
		details["distinct_field"] = r.Distinct
		vals := make([]string, 0, len(b.distinct))
		for v := range b.distinct {
			vals = append(vals, v)
		}
		sort.Strings(vals)
		if len(vals) > 20 {
			vals = vals[:20]
		}
		details["distinct_values"] = vals
		if r.Explain == "" {
			what = "distinct " + r.Distinct + " values in events matching " + strconv.Quote(r.Title)
		}
		count = fmt.Sprintf("%d (over %d events)", b.poured, b.events)
		if b.poured == b.events {
			count = strconv.Itoa(b.poured)
		}
	}
	return signal.Signal{
		ID:          signal.DeriveID(Kind, r.ID, ids[0], ids[len(ids)-1], b.first.UTC().Format(time.RFC3339Nano)),
		Detector:    Kind,
		Layer:       signal.LayerStateful,
		RuleID:      r.ID,
		RuleVersion: r.Version,
		Title:       r.Title,
		Level:       r.Level,
		Score:       1,
		Tags:        append([]string(nil), r.Tags...),
		Techniques:  append([]string(nil), r.Techniques...),
		Entities:    entities(r.GroupBy, b.vals),
		Time:        b.last,
		EventIDs:    ids,
		Explanation: fmt.Sprintf("%s %s%s in %s (capacity %d)", count, what, groupPhrase(r.GroupBy, b.vals), shortDuration(dur), r.Capacity),
		Details:     details,
	}
}

// shortDuration renders 10m0s as 10m and 1h0m5s as 1h0m5s.
func shortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func entityKind(field string) string {
	l := strings.ToLower(field)
	switch {
	case l == "user.name" || strings.HasSuffix(l, ".user.name") || l == "user.target.name" || l == "user.effective.name":
		return "user"
	case l == "host.name" || l == "host.hostname" || strings.HasSuffix(l, "computer_name"):
		return "host"
	case strings.HasSuffix(l, ".ip") || l == "related.ip":
		return "ip"
	case l == "url.domain" || l == "dns.question.name" || l == "destination.domain":
		return "domain"
	case l == "process.name" || l == "process.executable":
		return "process"
	}
	return "field:" + field
}

func entities(groupBy, vals []string) []signal.Entity {
	out := make([]signal.Entity, 0, len(groupBy))
	for i, f := range groupBy {
		out = append(out, signal.Entity{Kind: entityKind(f), Value: vals[i]})
	}
	return out
}

func groupPhrase(groupBy, vals []string) string {
	var b strings.Builder
	for i, f := range groupBy {
		v := vals[i]
		switch entityKind(f) {
		case "user":
			b.WriteString(" for user " + v)
		case "host":
			b.WriteString(" on host " + v)
		case "ip":
			if strings.HasPrefix(f, "destination.") || strings.HasPrefix(f, "server.") {
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
