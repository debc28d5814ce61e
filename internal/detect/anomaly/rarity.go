package anomaly

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/ml/baseline"
	"github.com/rampart-ids/rampart/internal/ml/sketch"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/snapshot"
)

// KindRarity is the detector kind of the first-seen detector.
const KindRarity = "rarity"

// Rarity rule ids.
const (
	RuleProcessPair = "process_pair"
	RuleLoginSource = "login_source"
	RuleDestPort    = "dest_port"
)

var rarityRules = []string{RuleProcessPair, RuleLoginSource, RuleDestPort}

// RarityOptions configure NewRarity. Zero values take the defaults in brackets.
type RarityOptions struct {
	// Learning is each entity's learning period in event time, from its
	// first event: values are learned but nothing fires [24h].
	Learning time.Duration
	// MaxPairs bounds the (entity, value) pairs kept [1<<20]; about 60
	// bytes each, so the default is ~64 MB at most.
	MaxPairs int
	// MaxEntities bounds the entities kept per rule set [1<<18].
	MaxEntities int
	// MaxValuesPerEntity caps how many values one entity may teach, so one
	// noisy or hostile entity cannot fill (and evict) the shared table [4096].
	MaxValuesPerEntity int
	// MaxSignalsPerEntityDay caps signals per rule, entity and UTC day [20].
	MaxSignalsPerEntityDay int
	// Rules limits the rules (process_pair, login_source, dest_port); default all.
	Rules []string
	// ExcludeFromLearning marks events that are checked but never learned.
	ExcludeFromLearning func(*event.Event) bool
}

func rarityOptions(cfg map[string]any) (RarityOptions, error) {
	var o RarityOptions
	var err error
	for k, v := range cfg {
		switch k {
		case "learning":
			o.Learning, err = detect.ConfigDuration(k, v)
		case "max_pairs":
			o.MaxPairs, err = detect.ConfigInt(k, v)
		case "max_entities":
			o.MaxEntities, err = detect.ConfigInt(k, v)
		case "max_values_per_entity":
			o.MaxValuesPerEntity, err = detect.ConfigInt(k, v)
		case "max_signals_per_entity_day":
			o.MaxSignalsPerEntityDay, err = detect.ConfigInt(k, v)
		case "rules":
			o.Rules, err = detect.ConfigList(k, v, rarityRules...)
		default:
			err = fmt.Errorf("unknown config key %q (want learning, max_pairs, max_entities, max_values_per_entity, max_signals_per_entity_day, rules)", k)
		}
		if err != nil {
			return o, fmt.Errorf("rarity: %w", err)
		}
	}
	return o, nil
}

// RarityStats counts what the rarity detector did.
type RarityStats struct {
	Checked       uint64 // (rule, event) pairs checked
	Learned       uint64 // new values learned
	NotLearned    uint64 // values of excluded events, not learned
	Capped        uint64 // values not learned: entity at MaxValuesPerEntity
	Signals       uint64
	RateLimited   uint64 // signals dropped by MaxSignalsPerEntityDay
	NoTime        uint64
	PairsEvicted  uint64
	EntityEvicted uint64
}

// Rarity is the first-seen detector. Detect is called from one goroutine;
// Snapshot, Restore and Stats may be called from others.
type Rarity struct {
	mu sync.Mutex
	o  RarityOptions
	// Enabled rules.
	pairOn, loginOn, portOn bool
	// pairs: hash(rule, entity, value) → A = times seen.
	pairs *sketch.LRUSet
	// ents: hash(rule, entity) → A = first-seen unix second, B = values
	// learned, C = day<<16 | signals that day.
	ents *sketch.LRUSet
	// pop: hash(rule, value) → A = entities that learned the value.
	pop   *sketch.LRUSet
	stats RarityStats
	host  [2]string  // last host name and its lower case
	lower lowerCache // Windows paths and accounts, lower-cased
}

var _ detect.Detector = (*Rarity)(nil)

// NewRarity builds the first-seen detector.
func NewRarity(o RarityOptions) (*Rarity, error) {
	if o.Learning < 0 {
		return nil, fmt.Errorf("rarity: negative learning period")
	}
	if o.Learning == 0 {
		o.Learning = 24 * time.Hour
	}
	if o.MaxPairs <= 0 {
		o.MaxPairs = 1 << 20
	}
	if o.MaxEntities <= 0 {
		o.MaxEntities = 1 << 18
	}
	if o.MaxValuesPerEntity <= 0 {
		o.MaxValuesPerEntity = 4096
	}
	if o.MaxSignalsPerEntityDay <= 0 {
		o.MaxSignalsPerEntityDay = 20
	}
	r := &Rarity{o: o}
	if len(o.Rules) == 0 {
		o.Rules = rarityRules
	}
	for _, name := range o.Rules {
		ok := false
		for _, k := range rarityRules {
			ok = ok || k == name
		}
		if !ok {
			return nil, fmt.Errorf("rarity: unknown rule %q", name)
		}
		switch name {
		case RuleProcessPair:
			r.pairOn = true
		case RuleLoginSource:
			r.loginOn = true
		case RuleDestPort:
			r.portOn = true
		}
	}
	r.pairs = sketch.NewLRUSet(o.MaxPairs)
	r.ents = sketch.NewLRUSet(o.MaxEntities)
	r.pop = sketch.NewLRUSet(max(o.MaxPairs/4, 1))
	return r, nil
}

// Name returns "rarity".
func (r *Rarity) Name() string { return KindRarity }

// Stats returns counters.
func (r *Rarity) Stats() RarityStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.PairsEvicted, s.EntityEvicted = r.pairs.Evicted(), r.ents.Evicted()
	return s
}

// candidate is one value an event carries for a rule, keyed as
// pre+a+sep+b. It is kept in pieces so that the values of known pairs,
// most of them, are hashed without building the string.
type candidate struct {
	pre, a, sep, b string
}

// hash is sketch.Hash of the leading parts and the candidate's value.
func (c candidate) hash(parts ...string) uint64 {
	h := sketch.NewHasher()
	for _, p := range parts {
		h = h.Part(p)
	}
	return h.Part(c.pre).Append(c.a).Append(c.sep).Append(c.b).Sum()
}

// show is the value as a person reads it.
func (c candidate) show() string {
	if c.sep == pairSep {
		return c.a + " → " + c.b
	}
	return c.a + c.sep + c.b
}

// pairSep joins a parent and a child in a process pair's key.
const pairSep = "\x00"

// Detect checks the event against each enabled rule.
func (r *Rarity) Detect(_ context.Context, ev *event.Event, emit detect.Emit) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev.Time.IsZero() {
		r.stats.NoTime++
		return nil
	}
	learn := r.o.ExcludeFromLearning == nil || !r.o.ExcludeFromLearning(ev)
	if r.pairOn {
		// Most events have no parent: read the child and host only for those that do.
		if parent := exeKey(field(ev, "process.parent.executable"), &r.lower); parent != "" {
			child := exeKey(field(ev, "process.executable"), &r.lower)
			if host := r.hostKey(ev); child != "" && host != "" {
				r.check(ev, emit, RuleProcessPair, "host", host, learn,
					[]candidate{{a: parent, sep: pairSep, b: child}})
			}
		}
	}
	ds := field(ev, "event.dataset")
	if r.loginOn && successfulLogin(ev, ds) {
		// Loopback logons are local sessions, not a source anyone travels from.
		if user, addr := userKey(ev, &r.lower), addrOf(ev); user != "" && addr != "" && !netip.MustParseAddr(addr).IsLoopback() {
			a := netip.MustParseAddr(addr)
			bits := 24
			if a.Is6() {
				bits = 64
			}
			net := netip.PrefixFrom(a, bits).Masked().String()
			r.check(ev, emit, RuleLoginSource, "user", user, learn,
				[]candidate{{pre: "ip:", a: addr}, {pre: "net:", a: net}})
		}
	}
	if r.portOn && connection(ev, ds) {
		port, _ := ev.Get("destination.port")
		p, ok := port.(int64)
		if src := addrOf(ev); src != "" && ok && p >= 0 && p <= 65535 {
			proto := strings.ToLower(field(ev, "network.transport"))
			if len(proto) > 16 {
				proto = ""
			}
			c := candidate{a: strconv.FormatInt(p, 10)}
			if proto != "" {
				c.sep, c.b = "/", proto
			}
			r.check(ev, emit, RuleDestPort, "ip", src, learn, []candidate{c})
		}
	}
	return nil
}

// hostKey is hostOf, reusing the lower case of the last host.
func (r *Rarity) hostKey(ev *event.Event) string {
	if h := hostName(ev); h != r.host[0] {
		r.host[0], r.host[1] = h, strings.ToLower(h)
	}
	return r.host[1]
}

// successfulLogin: a Linux auth success of a login action, or Windows 4624
// (ds is the event's dataset).
func successfulLogin(ev *event.Event, ds string) bool {
	switch ds {
	case "system.auth", "windows.security":
	default:
		return false
	}
	// The cheapest discriminating field first: most Windows events are not
	// 4624, and "success" already excludes "failure".
	switch ds {
	case "system.auth":
		return field(ev, "event.outcome") == "success" && strings.HasSuffix(field(ev, "event.action"), "_login")
	case "windows.security":
		return field(ev, "event.code") == "4624" && field(ev, "event.outcome") != "failure"
	}
	return false
}

// connection: a flow record (Zeek conn, Suricata flow, or an ECS/OCSF
// network event; ds is the event's dataset).
func connection(ev *event.Event, ds string) bool {
	switch ds {
	case "zeek.conn":
		return true
	case "suricata.eve":
		t := field(ev, "suricata.eve.event_type")
		return t == "flow" || t == "netflow"
	}
	switch c := ev.Fields["event.category"].(type) {
	case string:
		return c == "network"
	case []string:
		for _, s := range c {
			if s == "network" {
				return true
			}
		}
	}
	return false
}

func (r *Rarity) check(ev *event.Event, emit detect.Emit, rule, entKind, entity string, learn bool, cands []candidate) {
	r.stats.Checked++
	t := ev.Time.UTC()
	sec := uint32(min(max(t.Unix(), 0), math.MaxUint32)) // unix seconds fit uint32 until 2106
	ent, created := r.ents.Put(sketch.Hash(rule, entity))
	if created || sec < ent.A {
		ent.A = sec // out-of-order events move first-seen back
	}
	learning := int64(sec) < int64(ent.A)+int64(r.o.Learning/time.Second)
	type fresh struct {
		i   int // index in cands
		pop uint32
	}
	var buf [2]fresh
	news := buf[:0]
	for i, c := range cands {
		pk := c.hash(rule, entity)
		if p, ok := r.pairs.Get(pk); ok {
			if learn {
				p.A++
			}
			continue
		}
		var pop uint32
		popKey := c.hash(rule)
		if pe, ok := r.pop.Peek(popKey); ok {
			pop = pe.A
		}
		news = append(news, fresh{i, pop})
		switch {
		case !learn:
			r.stats.NotLearned++
		case int(ent.B) >= r.o.MaxValuesPerEntity:
			r.stats.Capped++
		default:
			p, _ := r.pairs.Put(pk)
			p.A = 1
			ent.B++
			pe, _ := r.pop.Put(popKey)
			pe.A++
			r.stats.Learned++
		}
	}
	// Only the first candidate (the address, the pair, the port) fires; the
	// others (the network) qualify it.
	if learning || len(news) == 0 || news[0].i != 0 {
		return
	}
	day := uint32(t.Unix() / 86400)
	if ent.C>>16 != day&0xffff {
		ent.C = (day & 0xffff) << 16
	}
	if int(ent.C&0xffff) >= r.o.MaxSignalsPerEntityDay {
		r.stats.RateLimited++
		return
	}
	ent.C++
	r.stats.Signals++
	emit(r.signal(ev, rule, entKind, entity, cands[0].show(), news[0].pop, len(news) > 1, cands))
}

func (r *Rarity) signal(ev *event.Event, rule, entKind, entity, value string, pop uint32, netNew bool, cands []candidate) signal.Signal {
	// Score: a value new to this entity and to every other entity is the
	// rarest (0.9); each other entity that already has it lowers the score.
	score := 0.5 + 0.4/float64(1+pop)
	details := map[string]any{
		"rule": rule, "entity_kind": entKind, "entity": entity, "feature": rule, "value": value,
		"seen_before": int64(0), "population_count": int64(pop),
		"learning_seconds": int64(r.o.Learning / time.Second),
	}
	var title, sentence string
	ents := []signal.Entity{{Kind: entKind, Value: entity}}
	popNote := "never seen for any other " + map[string]string{"host": "host", "user": "user", "ip": "address"}[entKind]
	if pop == 1 {
		popNote = "seen for 1 other " + map[string]string{"host": "host", "user": "user", "ip": "address"}[entKind]
	} else if pop > 1 {
		popNote = fmt.Sprintf("seen for %d other %s", pop, map[string]string{"host": "hosts", "user": "users", "ip": "addresses"}[entKind])
	}
	switch rule {
	case RuleProcessPair:
		parent, child := cands[0].a, cands[0].b
		details["parent"], details["child"] = parent, child
		ents = append(ents, signal.Entity{Kind: "process", Value: child})
		title = "New parent→child process pair on host"
		sentence = fmt.Sprintf("%s: first time %s started %s (%s).", entity, parent, child, popNote)
	case RuleLoginSource:
		details["network"], details["network_new"] = cands[1].show(), netNew
		ents = append(ents, signal.Entity{Kind: "ip", Value: value})
		if netNew {
			score = min(score+0.05, 1)
		}
		title = "First login from a new source for user"
		net := "a network already seen for this user"
		if netNew {
			net = "a new network " + cands[1].show()
		}
		sentence = fmt.Sprintf("%s: first successful login from %s, in %s (%s).", entity, value, net, popNote)
	case RuleDestPort:
		title = "New destination port for address"
		sentence = fmt.Sprintf("%s: first connection to port %s (%s).", entity, value, popNote)
	}
	return signal.Signal{
		ID:          signal.DeriveID(KindRarity, rule, ev.ID),
		Detector:    KindRarity,
		Layer:       signal.LayerML,
		RuleID:      rule,
		RuleVersion: fmt.Sprintf("rarity-v%d learning=%v", raritySnapshotVersion, r.o.Learning),
		Title:       title,
		Level:       signal.LevelLow,
		Score:       round3(score),
		Entities:    ents,
		Time:        ev.Time.UTC(),
		EventIDs:    []string{ev.ID},
		Explanation: sentence,
		Details:     details,
	}
}

const raritySnapshotVersion = 1

type raritySnap struct {
	Learning                    time.Duration
	Pairs, Ents, Pop            []sketch.Entry
	PairsEv, EntsEv, PopEv      uint64
	Stats                       RarityStats
	MaxPairs, MaxEnts, MaxValue int
}

// Snapshot writes the learned pairs (versioned, hashed).
func (r *Rarity) Snapshot(w io.Writer) error {
	r.mu.Lock()
	s := raritySnap{Learning: r.o.Learning, Pairs: r.pairs.Entries(), Ents: r.ents.Entries(), Pop: r.pop.Entries(),
		PairsEv: r.pairs.Evicted(), EntsEv: r.ents.Evicted(), PopEv: r.pop.Evicted(), Stats: r.stats,
		MaxPairs: r.o.MaxPairs, MaxEnts: r.o.MaxEntities, MaxValue: r.o.MaxValuesPerEntity}
	r.mu.Unlock() // the copies are ours: encode and write without stalling Detect
	return snapshot.Write(w, KindRarity, raritySnapshotVersion, &s)
}

// Restore replaces the state with a snapshot; on error it is unchanged.
func (r *Rarity) Restore(rd io.Reader) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s raritySnap
	if err := snapshot.Read(rd, KindRarity, raritySnapshotVersion, baseline.MaxSnapshotBytes, &s); err != nil {
		return err
	}
	pairs, ents, pop := sketch.NewLRUSet(r.o.MaxPairs), sketch.NewLRUSet(r.o.MaxEntities), sketch.NewLRUSet(r.pop.Cap())
	for _, l := range []struct {
		set *sketch.LRUSet
		es  []sketch.Entry
		ev  uint64
	}{{pairs, s.Pairs, s.PairsEv}, {ents, s.Ents, s.EntsEv}, {pop, s.Pop, s.PopEv}} {
		if err := l.set.Load(l.es, l.ev); err != nil {
			return fmt.Errorf("rarity restore: %w: %v", snapshot.ErrInvalid, err)
		}
	}
	r.pairs, r.ents, r.pop, r.stats = pairs, ents, pop, s.Stats
	return nil
}
