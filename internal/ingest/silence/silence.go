// Package silence raises a health signal when an input stops delivering
// records for longer than expected (a stopped forwarder, a rotated file
// nobody follows, a broken network path), and clears it when records flow
// again. It is driven by the wall clock, injected as a func, because input
// health is about now, not about event time.
package silence

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/rampart-ids/rampart/internal/ingest"
	"github.com/rampart-ids/rampart/internal/signal"
)

// Detector is the Signal.Detector of silence signals.
const Detector = "input_health"

// RuleVersion is the Signal.RuleVersion of silence signals.
const RuleVersion = "1"

// DefaultFactor is how many expected intervals an input may miss before it
// counts as silent, when Expectation.After is zero.
const DefaultFactor = 3

// Expectation says how often an input is expected to deliver records.
type Expectation struct {
	// Name is the input's name.
	Name string
	// Every is the expected interval between records (must be > 0).
	Every time.Duration
	// After is the silence that raises the signal (default DefaultFactor × Every).
	After time.Duration
}

// Monitor tracks when each input last delivered. It is safe for concurrent use.
type Monitor struct {
	now func() time.Time

	mu     sync.Mutex
	inputs map[string]*state
	names  []string
}

type state struct {
	exp    Expectation
	last   time.Time
	silent bool // a signal was emitted for the current episode
}

// NewMonitor returns a monitor for inputs, reading the wall clock from now
// (time.Now if nil). Every input counts as seen at creation, so one that
// never delivers raises a signal After its threshold. Expectations with a
// non-positive Every are ignored.
func NewMonitor(inputs []Expectation, now func() time.Time) *Monitor {
	if now == nil {
		now = time.Now
	}
	m := &Monitor{now: now, inputs: map[string]*state{}}
	start := now()
	for _, e := range inputs {
		if e.Every <= 0 || e.Name == "" {
			continue
		}
		if e.After <= 0 {
			e.After = DefaultFactor * e.Every
		}
		if _, dup := m.inputs[e.Name]; !dup {
			m.names = append(m.names, e.Name)
		}
		m.inputs[e.Name] = &state{exp: e, last: start}
	}
	sort.Strings(m.names)
	return m
}

// Seen records that input name delivered records now; it ends a silence
// episode. Unknown names are ignored.
func (m *Monitor) Seen(name string) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if st, ok := m.inputs[name]; ok {
		st.last = now
		st.silent = false
	}
}

// Check returns one signal per input that went silent since the last
// Check, once per silence episode.
func (m *Monitor) Check() []signal.Signal {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []signal.Signal
	for _, name := range m.names {
		st := m.inputs[name]
		if st.silent {
			continue
		}
		silentFor := now.Sub(st.last)
		if silentFor < st.exp.After {
			continue
		}
		st.silent = true
		out = append(out, newSignal(st, now, silentFor))
	}
	return out
}

// Silent lists the inputs currently in a silence episode, sorted.
func (m *Monitor) Silent() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, name := range m.names {
		if m.inputs[name].silent {
			out = append(out, name)
		}
	}
	return out
}

// Run calls Check every interval until ctx is done and passes new signals to emit.
func (m *Monitor) Run(ctx context.Context, interval time.Duration, emit func(signal.Signal)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, s := range m.Check() {
				emit(s)
			}
		}
	}
}

// WrapSink returns a sink that passes records to next and marks input name
// as seen whenever a non-empty batch is accepted.
func (m *Monitor) WrapSink(name string, next ingest.Sink) ingest.Sink {
	return &seenSink{m: m, name: name, next: next}
}

type seenSink struct {
	m    *Monitor
	name string
	next ingest.Sink
}

func (s *seenSink) Submit(ctx context.Context, recs []ingest.Record) error {
	if err := s.next.Submit(ctx, recs); err != nil {
		return err
	}
	if len(recs) > 0 {
		s.m.Seen(s.name)
	}
	return nil
}

// RuleID returns the Signal.RuleID for input name.
func RuleID(name string) string { return "input-silent:" + name }

func newSignal(st *state, now time.Time, silentFor time.Duration) signal.Signal {
	name, rule := st.exp.Name, RuleID(st.exp.Name)
	last := st.last.UTC()
	return signal.Signal{
		// One id per episode: the episode is named by its last delivery.
		ID:          signal.DeriveID(Detector, rule, last.Format(time.RFC3339Nano)),
		Detector:    Detector,
		Layer:       signal.LayerHealth,
		RuleID:      rule,
		RuleVersion: RuleVersion,
		Title:       fmt.Sprintf("Input %s silent for %s (expected every %s)", name, human(silentFor), human(st.exp.Every)),
		Level:       signal.LevelMedium,
		Score:       1,
		Time:        now.UTC(),
		EventIDs:    []string{},
		Explanation: fmt.Sprintf("No records from input %s since %s; it is expected to deliver at least every %s.",
			name, last.Format(time.RFC3339), human(st.exp.Every)),
		Details: map[string]any{
			"input":          name,
			"last_seen":      last.Format(time.RFC3339Nano),
			"silent_seconds": int64(silentFor / time.Second),
			"expected_every": human(st.exp.Every),
			"threshold":      human(st.exp.After),
		},
	}
}

// human renders a duration the way people write it: 15m, 2h, 1h30m, 45s.
func human(d time.Duration) string {
	switch {
	case d >= time.Minute:
		d = d.Truncate(time.Minute)
		h, m := d/time.Hour, (d%time.Hour)/time.Minute
		switch {
		case h == 0:
			return fmt.Sprintf("%dm", m)
		case m == 0:
			return fmt.Sprintf("%dh", h)
		default:
			return fmt.Sprintf("%dh%dm", h, m)
		}
	case d >= time.Second:
		return fmt.Sprintf("%ds", d/time.Second)
	default:
		return d.String()
	}
}
