// Package detect defines the Detector interface that every detection layer
// implements (Sigma, IOC, thresholds, correlation, ML), a registry of
// detector kinds, and the Engine that fans one event out to all detectors.
package detect

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

// Emit receives signals from a detector. The signal is owned by the receiver.
type Emit func(signal.Signal)

// A Detector reports signals for normalized events.
//
// The Engine calls Detect from one goroutine at a time, in event order, so
// stateful detectors need no locking of their own for Detect. Detect must not
// retain or modify ev, and must not do I/O: rules, models and tables are
// loaded before Detect is first called. Stateful detectors use event time
// (ev.Time), never the wall clock, so a replay gives the same signals.
// A non-nil error means ev could not be evaluated; the engine counts it and
// continues with the next event.
type Detector interface {
	// Name is the detector kind ("sigma", "ioc", "threshold", …).
	Name() string
	Detect(ctx context.Context, ev *event.Event, emit Emit) error
}

// SignalObserver is an optional capability: detectors that build on other
// detectors' signals (correlation rules) see every signal the engine emits,
// after the event's Detect calls, in order.
type SignalObserver interface {
	ObserveSignal(ctx context.Context, sig *signal.Signal, ev *event.Event, emit Emit)
}

// Flusher is an optional capability: at the end of a finite input (replay),
// Flush emits what is still pending (open correlation windows never emit;
// this is for detectors that report at window close).
type Flusher interface {
	Flush(ctx context.Context, emit Emit)
}

// Reloader is an optional capability for detectors whose rules or lists can
// be reloaded without stopping ingestion. Reload builds the new state first
// and swaps it in only when it loaded without error.
type Reloader interface {
	Reload(ctx context.Context) error
}

// Engine fans events out to detectors and collects their signals.
// An Engine is used from one goroutine (see Detector).
type Engine struct {
	detectors []Detector
	observers []SignalObserver
	// pending counts the signals raised so far for the event being processed;
	// raised holds them (for Raised).
	pending int
	raised  []signal.Signal
	errs    map[string]uint64
	mu      sync.Mutex
	// cur collects the signals of the event being processed and spare is the
	// other buffer of the observer rounds; both are reused across events, and
	// emitFn is e.collect bound once, so Process allocates nothing per event.
	cur, spare []signal.Signal
	emitFn     Emit
}

// NewEngine builds an engine over detectors, in the given order.
func NewEngine(ds ...Detector) *Engine {
	e := &Engine{errs: map[string]uint64{}}
	e.emitFn = e.collect
	for _, d := range ds {
		e.detectors = append(e.detectors, d)
		if o, ok := d.(SignalObserver); ok {
			e.observers = append(e.observers, o)
		}
	}
	return e
}

// Detectors returns the engine's detectors.
func (e *Engine) Detectors() []Detector { return e.detectors }

// Process runs every detector on ev and passes the resulting signals (and
// the signals that observers derive from them) to emit.
func (e *Engine) Process(ctx context.Context, ev *event.Event, emit Emit) {
	e.pending, e.raised = 0, nil
	for _, d := range e.detectors {
		if err := d.Detect(ctx, ev, e.emitFn); err != nil {
			e.mu.Lock()
			e.errs[d.Name()]++
			e.mu.Unlock()
		}
	}
	// Observers may derive signals from signals (correlation of correlations);
	// bound the depth so a misconfigured chain cannot loop.
	for depth := 0; len(e.cur) > 0 && depth < 8; depth++ {
		batch := e.cur
		e.cur = e.spare[:0]
		for i := range batch {
			emit(batch[i])
			for _, o := range e.observers {
				o.ObserveSignal(ctx, &batch[i], ev, e.emitFn)
			}
		}
		e.spare = recycle(batch)
	}
	for i := range e.cur {
		emit(e.cur[i])
	}
	e.cur = recycle(e.cur)
	e.raised = nil
}

// collect is the Emit the engine hands to detectors and observers.
func (e *Engine) collect(s signal.Signal) {
	e.cur = append(e.cur, s)
	e.pending++
	e.raised = e.cur
}

// recycle empties a signal buffer for reuse, dropping its references so
// emitted signals' maps and slices are not pinned until the next event.
func recycle(b []signal.Signal) []signal.Signal {
	clear(b)
	return b[:0]
}

// Flagged reports whether the event being processed has raised a signal
// in a detector that ran before the caller. Detectors run in engine order
// (rules, stateful, then ML), so ML detectors can keep flagged events out
// of their baselines. Only meaningful from inside Detect.
func (e *Engine) Flagged() bool { return e.pending > 0 }

// Raised returns the signals the event being processed has raised so far
// in detectors that ran before the caller (what Flagged counts). Only
// meaningful from inside Detect; the caller must not keep or modify them.
func (e *Engine) Raised() []signal.Signal { return e.raised }

// Flush asks every Flusher to emit what is pending.
func (e *Engine) Flush(ctx context.Context, emit Emit) {
	for _, d := range e.detectors {
		if f, ok := d.(Flusher); ok {
			f.Flush(ctx, emit)
		}
	}
}

// Errors returns the count of Detect errors per detector name.
func (e *Engine) Errors() map[string]uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]uint64, len(e.errs))
	for k, v := range e.errs {
		out[k] = v
	}
	return out
}

// Factory builds a detector of one kind from its options.
type Factory func(opts Options) (Detector, error)

// Options carries what a detector factory may need. Fields a kind does not
// use are ignored.
type Options struct {
	// RulePaths are files or folders of rules (Sigma YAML, threshold YAML, indicator lists).
	RulePaths []string
	// Config is the kind's own config section, decoded by the kind.
	Config map[string]any
	// ExcludeFromLearning, for learning detectors, marks events that are
	// scored but never learned from (poisoning defence: events tied to
	// alerts). Nil learns from every event.
	ExcludeFromLearning func(*event.Event) bool
}

// Spec describes a detector kind.
type Spec struct {
	Kind    string // unique, lower_snake; config key and metric label
	Layer   signal.Layer
	Summary string
	New     Factory
}

var (
	regMu    sync.RWMutex
	registry = map[string]Spec{}
)

// Register adds a detector kind. It panics on a duplicate kind (a programming error).
func Register(s Spec) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[s.Kind]; dup {
		panic(fmt.Sprintf("detect: duplicate detector kind %q", s.Kind))
	}
	registry[s.Kind] = s
}

// Lookup returns a registered kind.
func Lookup(kind string) (Spec, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	s, ok := registry[kind]
	return s, ok
}

// Kinds lists the registered kinds, sorted.
func Kinds() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
