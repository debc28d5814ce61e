package purpose

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rampart-ids/rampart/internal/event"
)

func TestAllowed(t *testing.T) {
	tests := []struct {
		tags []string
		p    string
		want bool
	}{
		{nil, Training, false},
		{[]string{Detection}, Training, false},
		{[]string{Detection, Training}, Training, true},
		{[]string{Any}, Training, true},
		{[]string{Any, "!" + Training}, Training, false},
		{[]string{Training, "!" + Training}, Training, false},
		{[]string{Any}, "", false},
		{[]string{"Training"}, Training, false}, // exact match only
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.tags, tc.p), func(t *testing.T) {
			if got := Allowed(tc.tags, tc.p); got != tc.want {
				t.Errorf("Allowed(%q, %q) = %v, want %v", tc.tags, tc.p, got, tc.want)
			}
		})
	}
}

func TestTrainingSet(t *testing.T) {
	mk := func(id string, tags ...string) *event.Event {
		ev := event.New()
		ev.ID = id
		Tag(ev, tags)
		return ev
	}
	evs := []*event.Event{
		mk("a", Detection, Training), mk("b", Detection), mk("c"), mk("d", Any), mk("e", Any, "!training"),
	}
	evs[2].Set(Field, Training) // a single string tag counts too
	kept, excluded := TrainingSet(evs)
	var ids []string
	for _, ev := range kept {
		ids = append(ids, ev.ID)
	}
	if diff := cmp.Diff([]string{"a", "c", "d"}, ids); diff != "" || excluded != 2 {
		t.Errorf("kept (-want +got):\n%s excluded %d, want 2", diff, excluded)
	}
	tags := []string{Detection}
	ev := mk("x")
	Tag(ev, tags)
	tags[0] = Training
	if Allowed(Of(ev), Training) {
		t.Error("Tag kept a reference to the caller's slice")
	}
	Tag(ev, nil)
	if Of(ev) != nil {
		t.Error("Tag(nil) did not clear tags")
	}
}
