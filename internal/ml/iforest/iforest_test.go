package iforest

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// cluster returns n rows around (0,0,0) with small noise, seeded.
func cluster(n int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 2))
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = []float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
	}
	return rows
}

func TestFitScore(t *testing.T) {
	names := []string{"bytes", "packets", "duration"}
	f, err := Fit(DefaultConfig(), names, cluster(2000, 1))
	if err != nil {
		t.Fatal(err)
	}
	in, err := f.Score([]float64{0.1, -0.2, 0.05})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := f.Score([]float64{4, 4, -4})
	if !(out.Score > in.Score) || !out.Anomalous || in.Anomalous {
		t.Errorf("inlier %.3f (anomalous %v), outlier %.3f (anomalous %v), threshold %.3f", in.Score, in.Anomalous, out.Score, out.Anomalous, f.Threshold)
	}
	// Far out on "packets" only: packets explains it. Beyond the training
	// range a forest cannot isolate it faster than the most extreme training
	// row, which is why the support check reports it.
	one, _ := f.Score([]float64{0, 9, 0})
	if top := one.Explanation.Top; len(top) == 0 || top[0].Feature != "packets" {
		t.Errorf("top attribution %+v, want packets first", top)
	}
	if len(one.OutOfSupport) != 1 || one.OutOfSupport[0] != "packets" {
		t.Errorf("out of support %v, want [packets]", one.OutOfSupport)
	}
	if len(in.OutOfSupport) != 0 {
		t.Errorf("inlier out of support %v", in.OutOfSupport)
	}
	if one.Explanation.Sentence == "" {
		t.Error("no sentence")
	}
}

func TestThresholdMatchesTargetRate(t *testing.T) {
	rows := cluster(5000, 3)
	cfg := DefaultConfig()
	cfg.TargetRate = 0.02
	f, err := Fit(cfg, []string{"a", "b", "c"}, rows)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rows {
		if s, _ := f.Score(r); s.Anomalous {
			n++
		}
	}
	if rate := float64(n) / float64(len(rows)); math.Abs(rate-0.02) > 0.005 {
		t.Errorf("training alert rate %.4f, want about 0.02", rate)
	}
}

func TestDeterministicAndSerialisable(t *testing.T) {
	rows := cluster(1000, 5)
	a, _ := Fit(DefaultConfig(), []string{"a", "b", "c"}, rows)
	b, _ := Fit(DefaultConfig(), []string{"a", "b", "c"}, rows)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatal("two fits with one seed differ")
	}
	var back Forest
	if err := json.Unmarshal(ja, &back); err != nil {
		t.Fatal(err)
	}
	x := []float64{3, -3, 1}
	s1, _ := a.Score(x)
	s2, _ := back.Score(x)
	if s1.Score != s2.Score {
		t.Errorf("score after round trip %v, before %v", s2.Score, s1.Score)
	}
	cfg := DefaultConfig()
	cfg.Seed = 99
	c, _ := Fit(cfg, []string{"a", "b", "c"}, rows)
	if jc, _ := json.Marshal(c); string(jc) == string(ja) {
		t.Error("another seed gave the same forest")
	}
}

func TestErrors(t *testing.T) {
	names := []string{"a", "b"}
	tests := []struct {
		name string
		rows [][]float64
		cfg  Config
	}{
		{"too few rows", [][]float64{{1, 2}}, DefaultConfig()},
		{"ragged", [][]float64{{1, 2}, {1}}, DefaultConfig()},
		{"nan", [][]float64{{1, 2}, {math.NaN(), 1}}, DefaultConfig()},
		{"bad rate", [][]float64{{1, 2}, {2, 1}}, Config{Trees: 1, SampleSize: 2, TargetRate: 0}},
	}
	for _, tc := range tests {
		if _, err := Fit(tc.cfg, names, tc.rows); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	f, _ := Fit(DefaultConfig(), names, [][]float64{{1, 2}, {2, 1}, {3, 3}})
	if _, err := f.Score([]float64{1}); !errors.Is(err, ErrDim) {
		t.Errorf("short vector: %v", err)
	}
	if _, err := f.Score([]float64{math.Inf(1), 1}); err == nil {
		t.Error("inf accepted")
	}
}
