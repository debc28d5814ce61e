package purpose

import (
	"fmt"
	"slices"
	"strings"
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

func TestRulesDecide(t *testing.T) {
	rs := Rules{
		{Source: "/data/loghub/Linux/*.log", Tags: []string{Training, Detection}},
		{Source: "*.csv", Tags: []string{Any, "!" + Training}},
		{Source: "file:auth", Tags: []string{Detection}},
	}
	if err := rs.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		source string
		allow  bool
		why    string
	}{
		{"/data/loghub/Linux/Linux_2k.log", true, ""},
		{"/data/other/payload_train.csv", false, "do not allow training"},
		{"file:auth", false, "do not allow training"},
		{"/data/loghub/Mac/Mac_2k.log", false, "untagged"},
	}
	for _, tc := range tests {
		ok, why := rs.Decide(tc.source, Training)
		if ok != tc.allow || !strings.Contains(why, tc.why) {
			t.Errorf("Decide(%s) = %v %q; want %v %q", tc.source, ok, why, tc.allow, tc.why)
		}
	}
	if ok, _ := Rules(nil).Decide("anything", Training); !ok {
		t.Error("no declarations must allow every source")
	}
	bad := Rules{{Source: "[", Tags: []string{Training}}, {Source: "x"}, {Source: "y", Tags: []string{"!*"}}}
	if err := bad.Validate(); err == nil || strings.Count(err.Error(), "purposes[") != 3 {
		t.Errorf("Validate(bad) = %v; want three problems", err)
	}
}

func TestRulesForInput(t *testing.T) {
	rs := Rules{
		{Source: "file:vpn", Tags: []string{Detection}},                     // an input by name
		{Source: "/var/log/auth*.log", Tags: []string{Detection, Training}}, // a file by path
		{Source: "syslog:tcp", Tags: []string{Any}},                         // one syslog transport
		{Source: "http", Tags: []string{Any, "!" + Training}},
		{Source: "*.json", Tags: []string{Export}}, // a base name
	}
	tests := []struct {
		input, source string
		want          []string
	}{
		{"file:vpn", "file:/var/log/auth.log", []string{Detection}}, // the first matching rule wins
		{"file:sys", "file:/var/log/auth.log", []string{Detection, Training}},
		{"file:sys", "file:/var/log/auth.log.1", nil},
		{"file:sys", "file:/data/x/eve.json", []string{Export}},
		{"syslog", "syslog:tcp", []string{Any}},
		{"syslog", "syslog:udp", nil},
		{"http", "http", []string{Any, "!" + Training}},
		{"demo", "demo", nil},
	}
	for _, tc := range tests {
		if got := rs.ForInput(tc.input, tc.source); !slices.Equal(got, tc.want) {
			t.Errorf("ForInput(%q, %q) = %q, want %q", tc.input, tc.source, got, tc.want)
		}
	}
}
