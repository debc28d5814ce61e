package linear

import (
	"math"
	"testing"
)

func TestTrainSeparable(t *testing.T) {
	// Feature 0 marks positives, feature 1 negatives, feature 2 is noise.
	var xs []Sparse
	var ys []float64
	for i := 0; i < 40; i++ {
		if i%2 == 0 {
			xs = append(xs, Sparse{Idx: []int32{0, 2}, Val: []float64{1, float64(i % 3)}})
			ys = append(ys, 1)
		} else {
			xs = append(xs, Sparse{Idx: []int32{1, 2}, Val: []float64{1, float64(i % 3)}})
			ys = append(ys, 0)
		}
	}
	m, err := Train(xs, ys, 3, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if p := m.Score(Sparse{Idx: []int32{0}, Val: []float64{1}}); p < 0.9 {
		t.Errorf("P(pos) = %.3f, want > 0.9", p)
	}
	if p := m.Score(Sparse{Idx: []int32{1}, Val: []float64{1}}); p > 0.1 {
		t.Errorf("P(neg) = %.3f, want < 0.1", p)
	}
	if m.W[0] <= 0 || m.W[1] >= 0 || math.Abs(m.W[2]) > math.Abs(m.W[0]) {
		t.Errorf("weights %v", m.W)
	}
	// L2 shrinks weights.
	strong := DefaultOptions()
	strong.L2 = 1
	m2, _ := Train(xs, ys, 3, strong)
	if math.Abs(m2.W[0]) >= math.Abs(m.W[0]) {
		t.Errorf("L2=1 weight %v not below L2=1e-4 weight %v", m2.W[0], m.W[0])
	}
}

func TestTrainErrors(t *testing.T) {
	tests := []struct {
		name string
		xs   []Sparse
		ys   []float64
		dim  int
	}{
		{"empty", nil, nil, 1},
		{"index out of range", []Sparse{{Idx: []int32{5}, Val: []float64{1}}}, []float64{1}, 2},
		{"bad label", []Sparse{{Idx: []int32{0}, Val: []float64{1}}}, []float64{2}, 1},
		{"ragged", []Sparse{{Idx: []int32{0}, Val: nil}}, []float64{1}, 1},
	}
	for _, tc := range tests {
		if _, err := Train(tc.xs, tc.ys, tc.dim, DefaultOptions()); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestExplain(t *testing.T) {
	m := &Model{W: []float64{2, -1, 0.1}, B: 0}
	e := m.Explain(Sparse{Idx: []int32{0, 1, 2}, Val: []float64{1, 1, 1}}, []string{"a", "b", "c"}, nil, 2)
	if len(e.Top) != 2 || e.Top[0].Feature != "a" || e.Top[1].Feature != "c" || e.Sentence == "" {
		t.Errorf("explanation %+v", e)
	}
}
