package mleval

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/eval"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// TestNSLKDDSuite asserts what 5-fold CV on KDDTrain+_20Percent measured
// with seed 1 (AUC 0.9808, accuracy 0.9840, F1 0.9828), minus a margin.
func TestNSLKDDSuite(t *testing.T) {
	dir := testutil.SharedData(t, "nsl-kdd")
	r, err := runNSLKDD(context.Background(), eval.Options{Data: dir, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	res := r.(*NSLKDDResult)
	if testing.Verbose() {
		_ = res.Table(os.Stdout)
	}
	if res.CV.AUC < 0.975 || res.CV.Accuracy < 0.978 || res.CV.F1 < 0.977 {
		t.Errorf("cv AUC %.4f accuracy %.4f F1 %.4f, want >= 0.975, 0.978, 0.977", res.CV.AUC, res.CV.Accuracy, res.CV.F1)
	}
	if res.Example == "" {
		t.Error("no explanation example")
	}
	if !strings.HasPrefix(res.ModelHash, "sha256:") || res.ModelBytes == 0 {
		t.Errorf("model artifact %q, %d bytes", res.ModelHash, res.ModelBytes)
	}
}

func TestAUC(t *testing.T) {
	tests := []struct {
		s    []float64
		p    []bool
		want float64
	}{
		{[]float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1},
		{[]float64{0.9, 0.8, 0.2, 0.1}, []bool{false, false, true, true}, 0},
		{[]float64{0.5, 0.5, 0.5, 0.5}, []bool{false, true, false, true}, 0.5},
		{[]float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75},
	}
	for _, tc := range tests {
		if got := AUC(tc.s, tc.p); got != tc.want {
			t.Errorf("AUC(%v, %v) = %v, want %v", tc.s, tc.p, got, tc.want)
		}
	}
}
