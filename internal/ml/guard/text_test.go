package guard

import (
	"math"
	"testing"
)

func TestTextFeatures(t *testing.T) {
	names := TextFeatureNames()
	idx := map[string]int{}
	for i, n := range names {
		idx[n] = i
	}
	tests := []struct {
		in   string
		want map[string]float64
	}{
		{"", map[string]float64{"log_len": 0, "letters": 0}},
		{"ab1 <", map[string]float64{"log_len": math.Log1p(5), "letters": 0.4, "digits": 0.2, "spaces": 0.2, "char_<": 0.2}},
		{"Жx", map[string]float64{"nonascii": 0.5, "letters": 0.5}},
		{"a\x01", map[string]float64{"other": 0.5}},
	}
	for _, tc := range tests {
		v := TextFeatures(tc.in)
		if len(v) != len(names) {
			t.Fatalf("%q: %d values for %d names", tc.in, len(v), len(names))
		}
		for n, w := range tc.want {
			if math.Abs(v[idx[n]]-w) > 1e-12 {
				t.Errorf("%q: %s = %v, want %v", tc.in, n, v[idx[n]], w)
			}
		}
	}
}
