package api

import (
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestKeyLimits: each key has its own budget, a run of refusals is reported
// once, and a full table of spent budgets refuses a newcomer.
func TestKeyLimits(t *testing.T) {
	p := limitPolicy{limit: rate.Every(10 * time.Second), burst: 2, keys: 2}
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	var tab keyLimits // the zero value is ready
	steps := []struct {
		key       string
		after     time.Duration
		ok, first bool
	}{
		{"a", 0, true, false},
		{"a", 0, true, false},
		{"a", 0, false, true},  // budget spent: first refusal of a run
		{"a", 0, false, false}, // same run
		{"b", 0, true, false},  // another key, its own budget
		{"b", 0, true, false},
		{"c", 0, false, false}, // table full of spent budgets: fail closed
		{"a", 10 * time.Second, true, false},
		{"a", 0, false, true}, // a new run
	}
	for i, s := range steps {
		now = now.Add(s.after)
		ok, wait, first := tab.allow(p, s.key, now)
		if ok != s.ok || first != s.first || (ok != (wait == 0)) {
			t.Fatalf("step %d (%s): ok %v first %v wait %v, want ok %v first %v", i, s.key, ok, first, wait, s.ok, s.first)
		}
	}
	if len(tab) != p.keys {
		t.Errorf("table holds %d keys, want %d", len(tab), p.keys)
	}
}
