package robust

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sc(v string, caught, alerts int) Score {
	return Score{Version: v, Bad: 100, Caught: caught, Alerts: alerts, N: 1000}
}

func TestDecide(t *testing.T) {
	b := DefaultBounds()
	tests := []struct {
		name        string
		champ, chal Score
		want        string
		reason      string
	}{
		{"better", sc("1", 90, 100), sc("2", 95, 104), ActionPromote, "recall 0.9000 → 0.9500"},
		{"recall drop within bound", sc("1", 90, 100), sc("2", 88, 100), ActionPromote, ""},
		{"recall drop beyond bound", sc("1", 90, 100), sc("2", 87, 100), ActionRefuse, "fell 3.00 points"},
		{"alert budget exactly met", sc("1", 90, 100), sc("2", 90, 110), ActionPromote, "budget 110"},
		{"alert budget exceeded", sc("1", 90, 100), sc("2", 90, 111), ActionRefuse, "exceeds the budget 110"},
		{"champion silent: one more alert allowed", sc("1", 0, 0), sc("2", 1, 1), ActionPromote, ""},
		{"no known-bad", Score{Version: "1", N: 10}, Score{Version: "2", N: 10}, ActionRefuse, "no known-bad"},
	}
	for _, tc := range tests {
		d, err := Decide("m", tc.champ, tc.chal, b)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if d.Action != tc.want || !strings.Contains(d.Reason, tc.reason) {
			t.Errorf("%s: %s (%s), want %s containing %q", tc.name, d.Action, d.Reason, tc.want, tc.reason)
		}
		if (d.Action == ActionPromote) != (d.To == tc.chal.Version) || d.From != tc.champ.Version {
			t.Errorf("%s: from %s to %s", tc.name, d.From, d.To)
		}
	}
	if _, err := Decide("m", sc("1", 1, 1), Score{Version: "2", Bad: 5, N: 10}, b); err == nil {
		t.Error("scores on different data accepted")
	}
	if _, err := Decide("m", sc("1", 1, 1), sc("2", 1, 1), Bounds{MaxRecallDrop: -0.1}); err == nil {
		t.Error("negative bound accepted")
	}
}

func TestDecisionLogAndRollback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "promotions.jsonl")
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	p1, _ := Decide("m", sc("1", 90, 100), sc("2", 95, 100), DefaultBounds())
	p1.Time = t0
	r1, _ := Decide("m", sc("2", 95, 100), sc("3", 50, 100), DefaultBounds())
	other, _ := Decide("x", sc("1", 90, 100), sc("2", 95, 100), DefaultBounds())
	for _, d := range []Decision{p1, r1, other} {
		if err := AppendDecision(path, d); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := ReadDecisions(path, "m")
	if err != nil || len(ds) != 2 || ds[1].Action != ActionRefuse || ds[1].Challenger.Recall != 0.5 {
		t.Fatalf("read %+v, %v", ds, err)
	}
	rb, err := RollbackTarget(ds, "m", "2")
	if err != nil || rb.To != "1" || rb.From != "2" || rb.Action != ActionRollback {
		t.Fatalf("rollback %+v, %v", rb, err)
	}
	if _, err := RollbackTarget(ds, "m", "1"); !errors.Is(err, ErrNoPromotion) {
		t.Errorf("rollback of the first version: %v", err)
	}
	// Promotions stack: 1→2, 2→3, rollback (to 2), rollback (to 1), then none.
	p2, _ := Decide("m", sc("2", 95, 100), sc("3", 96, 100), DefaultBounds())
	chain := []Decision{p1, r1, p2}
	for _, want := range []string{"2", "1"} {
		active := chain[len(chain)-1].To
		rb, err := RollbackTarget(chain, "m", active)
		if err != nil || rb.To != want {
			t.Fatalf("rollback from %s: %+v, %v; want %s", active, rb, err, want)
		}
		chain = append(chain, rb)
	}
	if _, err := RollbackTarget(chain, "m", "1"); !errors.Is(err, ErrNoPromotion) {
		t.Errorf("rollback with every promotion undone: %v", err)
	}
	if ds, err := ReadDecisions(filepath.Join(t.TempDir(), "none"), ""); err != nil || ds != nil {
		t.Errorf("missing log: %v %v", ds, err)
	}
}

// FuzzReadDecisions: any log content either reads or fails with an error,
// and what reads re-encodes to decisions that read back equal.
func FuzzReadDecisions(f *testing.F) {
	f.Add([]byte(`{"time":"2026-11-27T12:00:00Z","action":"promote","name":"m","from":"1","to":"2","reason":"r"}` + "\n"))
	f.Add([]byte("{}\n{\"action\":1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "log")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		ds, err := ReadDecisions(path, "")
		if err != nil {
			return
		}
		again := filepath.Join(t.TempDir(), "again")
		for _, d := range ds {
			if err := AppendDecision(again, d); err != nil {
				t.Fatal(err)
			}
		}
		back, err := ReadDecisions(again, "")
		if err != nil || len(back) != len(ds) {
			t.Fatalf("re-read %d of %d: %v", len(back), len(ds), err)
		}
	})
}
