package robust

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rampart-ids/rampart/internal/ml/model"
)

type row struct {
	id, user string
	v        float64
}

func TestFilter(t *testing.T) {
	rows := []row{{"e1", "alice", 1}, {"e2", "mallory", 2}, {"e3", "bob", 3}, {"e4", "mallory", 4}, {"e5", "bob", 5}, {"e6", "carol", 6}, {"e7", "dave", 7}}
	ex := Exclusions{
		AlertEvents:       map[string]bool{"e2": true, "e3": true},
		MaliciousEntities: map[string]bool{"user:mallory": true},
		SuppressedEvents:  map[string]bool{"e5": true, "e2": true},
		GuardEvents:       map[string]bool{"e7": true},
	}
	kept, rep := Filter(rows, func(r row) Item { return Item{EventID: r.id, Entities: []string{"user:" + r.user}} }, ex)
	var ids []string
	for _, r := range kept {
		ids = append(ids, r.id)
	}
	if diff := cmp.Diff([]string{"e1", "e6"}, ids); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
	want := []model.Exclusion{{Reason: ReasonAlert, Rows: 2}, {Reason: ReasonVerdict, Rows: 1}, {Reason: ReasonSuppressed, Rows: 1}, {Reason: ReasonGuard, Rows: 1}}
	if diff := cmp.Diff(want, rep.Lineage()); diff != "" {
		t.Errorf("lineage (-want +got):\n%s", diff)
	}
	if rep.Total() != 5 {
		t.Errorf("total %d", rep.Total())
	}
}

func TestCapEntityShare(t *testing.T) {
	var rows []row
	for i := range 100 {
		u := fmt.Sprintf("u%d", i%10)
		if i < 60 {
			u = "flood"
		}
		rows = append(rows, row{id: fmt.Sprint(i), user: u})
	}
	kept, rep, err := CapEntityShare(rows, func(r row) string { return r.user }, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	first, last := -1, -1
	for i, r := range kept {
		if r.user == "flood" {
			n++
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if n != 10 || rep.Count(ReasonEntityCap) != 50 || len(kept) != 50 {
		t.Errorf("flood kept %d, dropped %d, total kept %d", n, rep.Count(ReasonEntityCap), len(kept))
	}
	// Thinning spans the entity's whole window.
	if l, _ := strconv.Atoi(kept[last].id); l < 50 || first != 0 {
		t.Errorf("kept flood rows end at %s", kept[last].id)
	}
	if _, _, err := CapEntityShare(rows, func(r row) string { return r.user }, 0); err == nil {
		t.Error("share 0 accepted")
	}
}

func TestTrim(t *testing.T) {
	rows := []row{{id: "a"}, {id: "b"}, {id: "c"}, {id: "d"}}
	kept, rep, err := Trim(rows, []float64{0.1, 0.9, 0.2, 0.9}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 2 || kept[0].id != "a" || kept[1].id != "c" || rep.Count(ReasonTrimmed) != 2 {
		t.Errorf("kept %+v", kept)
	}
	if _, _, err := Trim(rows, []float64{1}, 0.1); err == nil {
		t.Error("score count mismatch accepted")
	}
}

func TestEstimators(t *testing.T) {
	clean := []float64{10, 11, 9, 10, 12, 8, 10, 11, 9, 10}
	poisoned := append(append([]float64(nil), clean...), 1e6, 1e6) // two extreme rows
	mean := func(xs []float64) float64 {
		s := 0.0
		for _, x := range xs {
			s += x
		}
		return s / float64(len(xs))
	}
	tests := []struct {
		name string
		f    func([]float64) (float64, error)
	}{
		{"median", Median},
		{"trimmed mean 20%", func(xs []float64) (float64, error) { return TrimmedMean(xs, 0.2) }},
		{"median of 6 means", func(xs []float64) (float64, error) { return MedianOfMeans(xs, 6) }},
	}
	if mean(poisoned) < 1000 {
		t.Fatal("test data does not spoil the mean")
	}
	for _, tc := range tests {
		got, err := tc.f(poisoned)
		if err != nil || math.Abs(got-10) > 1 {
			t.Errorf("%s on poisoned data: %v, %v; want about 10", tc.name, got, err)
		}
		if _, err := tc.f(nil); !errors.Is(err, ErrEmpty) {
			t.Errorf("%s on nothing: %v", tc.name, err)
		}
	}
	if m, _ := MAD([]float64{1, 2, 3, 4, 100}); m != 1 {
		t.Errorf("MAD %v, want 1", m)
	}
}

func window(n int, mu float64, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 3))
	out := make([][]float64, n)
	for i := range out {
		out[i] = []float64{mu + rng.NormFloat64(), rng.NormFloat64()}
	}
	return out
}

func TestDrift(t *testing.T) {
	f := []string{"x", "y"}
	same, err := Drift(DefaultDriftConfig(), f, window(2000, 0, 1), window(2000, 0, 2))
	if err != nil {
		t.Fatal(err)
	}
	if same.Alarm || same.MaxPSI > 0.05 {
		t.Errorf("same distribution: %+v", same)
	}
	moved, err := Drift(DefaultDriftConfig(), f, window(2000, 0, 1), window(2000, 1.5, 2))
	if err != nil {
		t.Fatal(err)
	}
	if !moved.Alarm || moved.Features[0].Feature != "x" || moved.Shifted != 1 || moved.Features[0].MedianShift < 1.5 {
		t.Errorf("moved window: %+v", moved)
	}
	if moved.Reason() == "" {
		t.Error("no reason")
	}
	if _, err := Drift(DefaultDriftConfig(), f, nil, window(5, 0, 1)); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty window: %v", err)
	}
}
