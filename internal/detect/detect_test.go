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
