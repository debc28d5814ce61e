package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/suppress"
)

// Suppressions applies the stored suppressions in the serve process.
//
// Effect (DESIGN.md: an alert is a signal that passed suppression): the
// store WrapStore returns does not fold a signal an active suppression
// matches into any alert, so it opens or raises none and reaches no
// output. Nothing is lost: the pipeline has already stored the signal's
// evidence events (it stores every event that raised a signal, suppressed
// or not) and the suppression counts the hit with the newest event's id;
// alert ids stay those of alert.DeriveID, so once the suppression is gone a
// signal opens exactly the alert it would have opened without it.
//
// Hits are counted in memory and added to the store by Flush (Run calls
// it at intervals, and before a delete or expiry), never per signal. A
// signal id hidden among the last MaxSeenSignals is not counted again, so
// a re-delivered batch (a client retry) does not inflate the count; one
// re-delivered after a restart is.
//
// Expiry is on the wall clock (Now): a suppression is an operational
// object set for a period of real time, so a replay of old events is
// judged by the suppressions in force now. Safe for concurrent use.
type Suppressions struct {
	st     store.SuppressionStore // nil: the store keeps none, nothing is suppressed
	m      atomic.Pointer[suppress.Matcher]
	hits   suppress.Hits
	hidden atomic.Uint64 // signals hidden since start
	failed atomic.Uint64 // hit flushes that failed
	seen   seenSet       // signal ids hidden lately (writer goroutine, under its lock)
	now    func() time.Time
	log    *slog.Logger
}

// LoadSuppressions reads the stored suppressions (none if st keeps none).
// now is the wall clock (nil: time.Now).
func LoadSuppressions(ctx context.Context, st store.Store, now func() time.Time, log *slog.Logger) (*Suppressions, error) {
	if log == nil {
		log = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	x := &Suppressions{now: now, log: log}
	x.m.Store(suppress.NewMatcher(nil))
	if ss, ok := st.(store.SuppressionStore); ok {
		x.st = ss
		if err := x.Reload(ctx); err != nil {
			return nil, err
		}
		x.log.Info("suppressions loaded", "count", x.m.Load().Len())
	}
	return x, nil
}

// Reload rebuilds the matcher from the store.
func (x *Suppressions) Reload(ctx context.Context) error {
	if x.st == nil {
		return nil
	}
	ss, err := x.st.ListSuppressions(ctx)
	if err != nil {
		return fmt.Errorf("loading suppressions: %w", err)
	}
	x.m.Store(suppress.NewMatcher(ss))
	return nil
}

// Active is the number of suppressions the matcher holds.
func (x *Suppressions) Active() int { return x.m.Load().Len() }

// Hidden is the number of signals hidden since start.
func (x *Suppressions) Hidden() uint64 { return x.hidden.Load() }

// match returns the suppression hiding sig now, or nil. No I/O.
func (x *Suppressions) match(sig *signal.Signal, now time.Time) *suppress.Suppression {
	return x.m.Load().Match(sig, now)
}

// suppressesEvent reports whether activity on ev is suppressed: a signal an
// earlier detector raised on it is hidden by a suppression, or its user,
// host or source address is named by an entity-only suppression. For the
// ML learning gate; no I/O.
func (x *Suppressions) suppressesEvent(ev *event.Event, raised []signal.Signal, clock func() time.Time) bool {
	m := x.m.Load()
	if m.Len() == 0 {
		return false // the common case: no clock read, no lookups
	}
	now := clock()
	for i := range raised {
		if m.Match(&raised[i], now) != nil {
			return true
		}
	}
	if !m.HasEntityOnly() {
		return false
	}
	var es []signal.Entity
	for _, f := range learningEntityFields {
		if v, ok := ev.GetString(f.field); ok && v != "" {
			es = append(es, signal.Entity{Kind: f.kind, Value: v})
		}
	}
	return len(es) > 0 && m.Match(&signal.Signal{Entities: es}, now) != nil
}

// Flush adds the hits counted since the last flush to the store; on
// failure they are kept for the next one.
func (x *Suppressions) Flush(ctx context.Context) error {
	if x.st == nil {
		return nil
	}
	hs := x.hits.Take()
	if len(hs) == 0 {
		return nil
	}
	if err := x.st.AddSuppressionHits(ctx, hs); err != nil {
		x.hits.Restore(hs)
		x.failed.Add(1)
		return err
	}
	return nil
}

// Expire deletes the suppressions expired now (audited by the store) after
// flushing their last hits, and reloads the matcher. The matcher already
// ignores expired ones; this keeps the stored list and the audit log true.
func (x *Suppressions) Expire(ctx context.Context) (int64, error) {
	if x.st == nil {
		return 0, nil
	}
	if err := x.Flush(ctx); err != nil {
		x.log.Error("flushing suppression hits failed", "err", err)
	}
	n, err := x.st.ExpireSuppressions(ctx, x.now())
	if err != nil {
		return 0, err
	}
	if n > 0 {
		x.log.Info("suppressions expired", "count", n)
		return n, x.Reload(ctx)
	}
	return 0, nil
}

// Run flushes hits and expires suppressions every interval until ctx is
// done, then flushes once more.
func (x *Suppressions) Run(ctx context.Context, every time.Duration) {
	if x.st == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := x.Flush(fctx); err != nil {
				x.log.Error("flushing suppression hits failed", "err", err)
			}
			cancel()
			return
		case <-t.C:
			if _, err := x.Expire(ctx); err != nil && ctx.Err() == nil {
				x.log.Error("expiring suppressions failed", "err", err)
			}
			// Another node (a shared PostgreSQL store) may have changed them.
			if err := x.Reload(ctx); err != nil && ctx.Err() == nil {
				x.log.Error("reloading suppressions failed", "err", err)
			}
		}
	}
}

// Collectors are the suppression metrics.
func (x *Suppressions) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rampart_suppressions", Help: "Suppressions held (expired ones until the next expiry pass).",
		}, func() float64 { return float64(x.Active()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "rampart_suppressed_signals_total", Help: "Signals a suppression hid (no alert opened or raised; evidence events stored).",
		}, func() float64 { return float64(x.Hidden()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "rampart_suppression_hit_flush_failures_total", Help: "Failed writes of suppression hit counts (retried at the next flush).",
		}, func() float64 { return float64(x.failed.Load()) }),
	}
}

// WrapStore returns st with suppression applied: RecordSignals leaves out
// the signals an active suppression hides (counting them), and creating
// or deleting a suppression through it takes effect on the next signal.
// A store that keeps no suppressions, or lacks the optional interfaces,
// is returned unchanged.
func (x *Suppressions) WrapStore(st store.Store) store.Store {
	full, ok := st.(fullStore)
	if !ok || x.st == nil {
		return st
	}
	return &suppressStore{fullStore: full, x: x}
}

type suppressStore struct {
	fullStore
	x *Suppressions
}

// RecordSignals folds the signals no suppression hides. Its results hold
// only those signals, in input order (the pipeline uses them to notify
// outputs of new and raised alerts, which suppressed signals are not).
func (s *suppressStore) RecordSignals(ctx context.Context, sigs []signal.Signal, alertIDs []string) ([]alert.Alert, []bool, error) {
	m := s.x.m.Load()
	if m.Len() == 0 || len(sigs) != len(alertIDs) {
		return s.fullStore.RecordSignals(ctx, sigs, alertIDs)
	}
	now := s.x.now()
	keepS, keepID := sigs[:0:0], alertIDs[:0:0]
	for i := range sigs {
		if sup := m.Match(&sigs[i], now); sup != nil {
			if s.x.seen.add(sigs[i].ID) {
				s.x.hits.Add(sup.ID, now, sigs[i].EventIDs)
				s.x.hidden.Add(1)
			}
			continue
		}
		keepS, keepID = append(keepS, sigs[i]), append(keepID, alertIDs[i])
	}
	if len(keepS) == 0 {
		return nil, nil, nil
	}
	return s.fullStore.RecordSignals(ctx, keepS, keepID)
}

func (s *suppressStore) CreateSuppression(ctx context.Context, sp suppress.Suppression) error {
	if err := s.fullStore.CreateSuppression(ctx, sp); err != nil {
		return err
	}
	return s.reload(ctx)
}

func (s *suppressStore) DeleteSuppression(ctx context.Context, id, why string) error {
	// Flush first so the deletion's audit record counts every hit.
	if err := s.x.Flush(ctx); err != nil {
		s.x.log.Error("flushing suppression hits failed", "err", err)
	}
	if err := s.fullStore.DeleteSuppression(ctx, id, why); err != nil {
		return err
	}
	return s.reload(ctx)
}

// ListSuppressions and GetSuppression include the hits not yet flushed.
func (s *suppressStore) ListSuppressions(ctx context.Context) ([]suppress.Suppression, error) {
	if err := s.x.Flush(ctx); err != nil {
		s.x.log.Error("flushing suppression hits failed", "err", err)
	}
	return s.fullStore.ListSuppressions(ctx)
}

func (s *suppressStore) GetSuppression(ctx context.Context, id string) (suppress.Suppression, error) {
	if err := s.x.Flush(ctx); err != nil {
		s.x.log.Error("flushing suppression hits failed", "err", err)
	}
	return s.fullStore.GetSuppression(ctx, id)
}

func (s *suppressStore) reload(ctx context.Context) error {
	if err := s.x.Reload(ctx); err != nil {
		// The change is stored; Run's next pass cannot reload either, so say so.
		s.x.log.Error("reloading suppressions after a change failed", "err", err)
	}
	return nil
}

// MaxSeenSignals bounds the hidden signal ids remembered to count each once.
const MaxSeenSignals = 1 << 16

// seenSet is a bounded set of signal ids; the oldest is forgotten first.
type seenSet struct {
	mu   sync.Mutex
	set  map[string]struct{}
	ring []string
	next int
}

// add reports whether id was not in the set, and adds it.
func (s *seenSet) add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		s.set = make(map[string]struct{})
		s.ring = make([]string, MaxSeenSignals)
	}
	if _, ok := s.set[id]; ok {
		return false
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.set, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
	s.set[id] = struct{}{}
	return true
}
