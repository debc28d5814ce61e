package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/retention/purpose"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store"
)

// Reasons an event is kept out of the ML baselines (metric label values).
const (
	ExcludeAlert      = "alert"             // an earlier detector raised a signal on the event
	ExcludeMalicious  = "malicious_verdict" // the event's user, host or source address has a true-positive verdict
	ExcludePurpose    = "purpose"           // purpose rules are configured and the event's tags do not allow training
	ExcludeSuppressed = "suppressed"        // an active suppression hides an earlier signal on the event, or names its entity (see Suppressions)
)

// MaxExcludedEntities bounds the entities LearningExclusions holds; past it
// new ones are refused (and counted), so a flood of verdicts cannot grow
// the serve process without bound.
const MaxExcludedEntities = 1 << 16

// LearningExclusions is the serve process's in-memory set of entities whose
// events the learning detectors score but never learn (issue 4, item 2):
// the user, host and source-address entities of alerts an analyst marked
// true_positive. It is loaded from the store at start and updated when a
// verdict is recorded through the store WrapStore returns, so detectors
// never do I/O on the per-event path. Process entities are not kept: an
// executable path is shared by every host, and excluding it would blind
// every baseline to it.
//
// Suppressed activity (Suppressions) is checked by the learning gate
// against the in-memory suppression matcher and counted here under its
// own reason. Safe for concurrent use.
type LearningExclusions struct {
	mu sync.Mutex
	// byAlert: the keys each true-positive alert contributed; refs counts
	// the alerts holding each key, so a verdict changed away from
	// true_positive releases only what no other alert holds.
	byAlert map[string][]string
	refs    map[string]int
	// set is the read side, replaced whole on change: Detect reads it
	// without a lock.
	set      atomic.Pointer[map[string]struct{}]
	refused  atomic.Uint64
	excluded [4]atomic.Uint64 // by reason: alert, malicious verdict, purpose, suppressed
	log      *slog.Logger
}

// NewLearningExclusions returns an empty set.
func NewLearningExclusions(log *slog.Logger) *LearningExclusions {
	if log == nil {
		log = slog.Default()
	}
	x := &LearningExclusions{byAlert: map[string][]string{}, refs: map[string]int{}, log: log}
	x.set.Store(&map[string]struct{}{})
	return x
}

// LoadLearningExclusions returns the set holding the entities of every
// stored alert whose current verdict is true_positive.
func LoadLearningExclusions(ctx context.Context, st store.AlertStore, log *slog.Logger) (*LearningExclusions, error) {
	x := NewLearningExclusions(log)
	q := store.AlertQuery{Status: alert.StatusClosed, Limit: 1000}
	for {
		page, err := st.ListAlerts(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("loading alerts with a malicious verdict: %w", err)
		}
		for _, a := range page.Alerts {
			x.note(a)
		}
		if page.Next == "" {
			x.log.Info("ml learning exclusions loaded", "entities", x.Len())
			return x, nil
		}
		q.Cursor = page.Next
	}
}

// entityKey is the canonical key of an entity as both alerts and events
// give it: names compared case-insensitively, addresses canonical.
func entityKey(kind, value string) string {
	value = strings.TrimSpace(value)
	if value == "" || value == "-" || len(value) > 1024 {
		return ""
	}
	switch kind {
	case "user", "host":
		return kind + "=" + strings.ToLower(value)
	case "ip":
		a, err := netip.ParseAddr(value)
		if err != nil {
			return ""
		}
		return "ip=" + a.Unmap().String()
	}
	return ""
}

// note records alert a's verdict: a true_positive adds its entities, any
// other verdict releases what a's earlier true_positive added.
func (x *LearningExclusions) note(a alert.Alert) {
	x.mu.Lock()
	defer x.mu.Unlock()
	old, had := x.byAlert[a.ID]
	tp := a.Verdict != nil && a.Verdict.Kind == alert.TruePositive
	if had == tp {
		return // unchanged (a repeated true_positive keeps its first entities)
	}
	if had {
		delete(x.byAlert, a.ID)
		for _, k := range old {
			if x.refs[k]--; x.refs[k] <= 0 {
				delete(x.refs, k)
			}
		}
	} else {
		var keys []string
		for _, e := range a.Entities {
			k := entityKey(e.Kind, e.Value)
			if k == "" {
				continue
			}
			if _, ok := x.refs[k]; !ok && len(x.refs) >= MaxExcludedEntities {
				x.refused.Add(1)
				continue
			}
			x.refs[k]++
			keys = append(keys, k)
		}
		x.byAlert[a.ID] = keys
	}
	set := make(map[string]struct{}, len(x.refs))
	for k := range x.refs {
		set[k] = struct{}{}
	}
	x.set.Store(&set)
}

// Len is the number of entities held.
func (x *LearningExclusions) Len() int { return len(*x.set.Load()) }

// Excluded returns how many events were kept out of learning for reason
// (ExcludeAlert, ExcludeMalicious, ExcludePurpose or ExcludeSuppressed),
// each event counted once, under the first reason that applies (purpose,
// verdict, suppression, alert).
func (x *LearningExclusions) Excluded(reason string) uint64 {
	switch reason {
	case ExcludeAlert:
		return x.excluded[0].Load()
	case ExcludeMalicious:
		return x.excluded[1].Load()
	case ExcludePurpose:
		return x.excluded[2].Load()
	case ExcludeSuppressed:
		return x.excluded[3].Load()
	}
	return 0
}

// learningEntityFields are the event fields naming the entities whose
// verdicts and entity-only suppressions keep an event out of learning.
var learningEntityFields = [...]struct{ kind, field string }{
	{"user", "user.name"}, {"host", "host.name"}, {"host", "host.hostname"}, {"ip", "source.ip"},
}

// malicious reports whether ev's user, host or source address is held.
func (x *LearningExclusions) malicious(ev *event.Event) bool {
	set := *x.set.Load()
	if len(set) == 0 {
		return false // the common case: no lookups at all
	}
	for _, f := range learningEntityFields {
		v, _ := ev.GetString(f.field)
		if k := entityKey(f.kind, v); k != "" {
			if _, ok := set[k]; ok {
				return true
			}
		}
	}
	return false
}

// learnGate decides, once per event, whether the learning detectors may
// learn from it: not when purpose rules are configured and the event's
// tags do not allow training, not when its user, host or source address
// has a malicious verdict, not when a suppression hides an earlier signal
// on it or names its entity, not when an earlier detector flagged it. The
// engine calls detectors in turn on one goroutine, so the per-event state
// needs no lock. x may be nil: verdicts are not consulted, nothing is counted.
type learnGate struct {
	x        *LearningExclusions
	flagged  func() bool // a signal on the current event from an earlier detector
	purposes bool        // purpose rules are declared: untagged data is not learned
	// supp and raised (the earlier detectors' signals on the current event)
	// find suppressed activity; supp may be nil.
	supp   *Suppressions
	raised func() []signal.Signal
	now    func() time.Time
	at     time.Time // now, read at most once per event and only when a suppression is active

	last                         *event.Event
	lastID                       string
	denied, isMalicious, counted bool
}

// see computes the per-event facts when ev is a new event.
func (g *learnGate) see(ev *event.Event) {
	if ev == g.last && ev.ID == g.lastID && ev.ID != "" {
		return
	}
	g.last, g.lastID, g.counted = ev, ev.ID, false
	g.denied = g.purposes && !purpose.Allowed(purpose.Of(ev), purpose.Training)
	g.isMalicious = g.x != nil && g.x.malicious(ev)
	g.at = time.Time{}
}

// clock is the wall-clock time for the current event's suppression check.
func (g *learnGate) clock() time.Time {
	if g.at.IsZero() && g.now != nil {
		g.at = g.now()
	}
	return g.at
}

// count counts ev once, under reason index i.
func (g *learnGate) count(i int) {
	if g.x != nil && !g.counted {
		g.x.excluded[i].Add(1)
		g.counted = true
	}
}

// exclude is ExcludeFromLearning for the baselines: every reason. flagged
// is checked on every call (a later ML detector also skips what an
// earlier one flagged).
func (g *learnGate) exclude(ev *event.Event) bool {
	g.see(ev)
	switch {
	case g.denied:
		g.count(2)
		return true
	case g.isMalicious:
		g.count(1)
		return true
	case g.supp != nil && g.supp.suppressesEvent(ev, g.raisedNow(), g.clock):
		g.count(3)
		return true
	case g.flagged():
		g.count(0)
		return true
	}
	return false
}

func (g *learnGate) raisedNow() []signal.Signal {
	if g.raised == nil {
		return nil
	}
	return g.raised()
}

// excludeByPurpose is ExcludeFromLearning for the log-template miner: the
// purpose only. It has never skipped rule-flagged lines (a skipped line
// matching no template would be reported as new at every occurrence).
func (g *learnGate) excludeByPurpose(ev *event.Event) bool {
	g.see(ev)
	if g.denied {
		g.count(2)
		return true
	}
	return false
}

// Collectors are the set's metrics: events kept out of learning by
// reason, entities held, and entities refused at MaxExcludedEntities.
func (x *LearningExclusions) Collectors() []prometheus.Collector {
	var out []prometheus.Collector
	for _, r := range []string{ExcludeAlert, ExcludeMalicious, ExcludePurpose, ExcludeSuppressed} {
		out = append(out, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "rampart_ml_learning_excluded_events_total", Help: "Events the ML baselines scored but did not learn, by reason.",
			ConstLabels: prometheus.Labels{"reason": r},
		}, func() float64 { return float64(x.Excluded(r)) }))
	}
	out = append(out,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rampart_ml_excluded_entities", Help: "Entities (users, hosts, addresses) with a malicious verdict the ML baselines do not learn from.",
		}, func() float64 { return float64(x.Len()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "rampart_ml_excluded_entities_refused_total", Help: "Entities not added to the learning exclusions because the set was full.",
		}, func() float64 { return float64(x.refused.Load()) }))
	return out
}

// WrapStore returns st with SetVerdict also updating x, so a verdict
// recorded through the API takes effect on the next event. The optional
// store interfaces both stores implement stay visible through the wrapper.
func (x *LearningExclusions) WrapStore(st store.Store) store.Store {
	if full, ok := st.(fullStore); ok {
		return &verdictFullStore{fullStore: full, x: x}
	}
	return &verdictStore{Store: st, x: x}
}

// fullStore is a store with every optional interface the API and the
// serve process look for.
type fullStore interface {
	store.Store
	store.VerdictHistory
	store.StatsStore
	store.DetectorStatsStore
	store.Retention
	store.SuppressionStore
}

type verdictStore struct {
	store.Store
	x *LearningExclusions
}

func (s *verdictStore) SetVerdict(ctx context.Context, v alert.Verdict) error {
	return s.x.setVerdict(ctx, s.Store, v)
}

type verdictFullStore struct {
	fullStore
	x *LearningExclusions
}

func (s *verdictFullStore) SetVerdict(ctx context.Context, v alert.Verdict) error {
	return s.x.setVerdict(ctx, s.fullStore, v)
}

func (x *LearningExclusions) setVerdict(ctx context.Context, st store.AlertStore, v alert.Verdict) error {
	if err := st.SetVerdict(ctx, v); err != nil {
		return err
	}
	a, err := st.GetAlert(ctx, v.AlertID)
	if err != nil {
		// The verdict is stored and the caller must hear so; the set
		// catches up at the next start.
		x.log.Error("updating ml learning exclusions after a verdict", "alert", v.AlertID, "err", err)
		return nil
	}
	x.note(a)
	return nil
}
