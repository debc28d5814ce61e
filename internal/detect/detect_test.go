package detect_test

import (
	"context"
	"testing"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

type ruleFn struct{ fire func(*event.Event) bool }

func (r ruleFn) Name() string { return "rule" }
func (r ruleFn) Detect(_ context.Context, ev *event.Event, emit detect.Emit) error {
	if r.fire(ev) {
		emit(signal.Signal{Detector: "rule", RuleID: "r", EventIDs: []string{ev.ID}})
	}
	return nil
}

// learner records, per event, whether an earlier detector had flagged it.
type learner struct {
	eng     **detect.Engine
	learned []string
}

func (l *learner) Name() string { return "learner" }
func (l *learner) Detect(_ context.Context, ev *event.Event, _ detect.Emit) error {
	if !(*l.eng).Flagged() {
		l.learned = append(l.learned, ev.ID)
	}
	return nil
}

// TestFlaggedKeepsAlertedEventsOutOfLearning: a detector after the rule
// layer sees Flagged() exactly for the events the rules raised a signal on.
func TestFlaggedKeepsAlertedEventsOutOfLearning(t *testing.T) {
	var eng *detect.Engine
	l := &learner{eng: &eng}
	eng = detect.NewEngine(ruleFn{fire: func(ev *event.Event) bool { return ev.ID == "bad" }}, l)
	var sigs int
	for _, id := range []string{"a", "bad", "b", "bad", "c"} {
		eng.Process(context.Background(), &event.Event{ID: id}, func(signal.Signal) { sigs++ })
	}
	if sigs != 2 {
		t.Fatalf("signals = %d, want 2", sigs)
	}
	want := []string{"a", "b", "c"}
	if len(l.learned) != len(want) {
		t.Fatalf("learned %v, want %v", l.learned, want)
	}
	for i := range want {
		if l.learned[i] != want[i] {
			t.Fatalf("learned %v, want %v", l.learned, want)
		}
	}
}

// TestProcessReusesNoEmittedSignal: the engine reuses its signal buffers
// across events; what emit received for one event stays as it was.
func TestProcessReusesNoEmittedSignal(t *testing.T) {
	eng := detect.NewEngine(ruleFn{fire: func(ev *event.Event) bool { return ev.ID != "quiet" }},
		ruleFn{fire: func(ev *event.Event) bool { return ev.ID == "two" }})
	var got []signal.Signal
	for _, id := range []string{"one", "two", "quiet", "three"} {
		eng.Process(context.Background(), &event.Event{ID: id}, func(s signal.Signal) { got = append(got, s) })
		if eng.Raised() != nil {
			t.Fatalf("Raised after Process = %v, want nil", eng.Raised())
		}
	}
	want := []string{"one", "two", "two", "three"}
	if len(got) != len(want) {
		t.Fatalf("got %d signals, want %d", len(got), len(want))
	}
	for i, s := range got {
		if len(s.EventIDs) != 1 || s.EventIDs[0] != want[i] {
			t.Fatalf("signal %d: events %v, want [%s]", i, s.EventIDs, want[i])
		}
	}
}

// BenchmarkProcess: the engine's own cost per event over two detectors
// (one quiet, one raising a signal every 8th event).
func BenchmarkProcess(b *testing.B) {
	n := 0
	eng := detect.NewEngine(ruleFn{fire: func(*event.Event) bool { return false }},
		ruleFn{fire: func(*event.Event) bool { n++; return n%8 == 0 }})
	ev := &event.Event{ID: "e"}
	sigs := 0
	emit := func(signal.Signal) { sigs++ }
	b.ReportAllocs()
	for b.Loop() {
		eng.Process(context.Background(), ev, emit)
	}
	if sigs == 0 {
		b.Fatal("no signals")
	}
}
