package mleval

import (
	"context"
	"os"
	"testing"

	"github.com/rampart-ids/rampart/internal/eval"
	"github.com/rampart-ids/rampart/internal/testutil"
)

func TestGroupingAccuracy(t *testing.T) {
	tests := []struct {
		name       string
		got, truth []string
		want       float64
	}{
		{"perfect", []string{"a", "a", "b"}, []string{"x", "x", "y"}, 1},
		{"merged", []string{"a", "a", "a"}, []string{"x", "x", "y"}, 0},
		{"split", []string{"a", "b", "c"}, []string{"x", "x", "y"}, 1.0 / 3},
		{"empty", nil, nil, 0},
	}
	for _, tc := range tests {
		if got := GroupingAccuracy(tc.got, tc.truth); got != tc.want {
			t.Errorf("%s: GA %v, want %v", tc.name, got, tc.want)
		}
	}
	if pa := ParsingAccuracy([]string{"a <*><*> b", "c"}, []string{"a <*>  b", "d"}); pa != 0.5 {
		t.Errorf("PA %v, want 0.5", pa)
	}
}

// TestLoghubSuite asserts what the one global configuration measured on
// loghub-2k (GA 0.9738, PA 0.8203 average), minus a small margin.
func TestLoghubSuite(t *testing.T) {
	dir := testutil.SharedData(t, "loghub-2k")
	r, err := runLoghub(context.Background(), eval.Options{Data: dir})
	if err != nil {
		t.Fatal(err)
	}
	res := r.(*LoghubResult)
	if testing.Verbose() {
		_ = res.Table(os.Stdout)
	}
	if res.GAAvg < 0.965 {
		t.Errorf("GA average %.4f, want >= 0.965", res.GAAvg)
	}
	if res.PAAvg < 0.80 {
		t.Errorf("PA average %.4f, want >= 0.80", res.PAAvg)
	}
	for _, s := range res.Systems {
		if s.GA < 0.87 {
			t.Errorf("%s: GA %.4f, want >= 0.87", s.Name, s.GA)
		}
	}
	j := res.JSON()
	if _, ok := j["systems"].(map[string]any)["OpenSSH"]; !ok {
		t.Errorf("JSON lacks systems.OpenSSH: %v", j)
	}
}

func TestLoghubBadDir(t *testing.T) {
	if _, err := runLoghub(context.Background(), eval.Options{Data: t.TempDir()}); err == nil {
		t.Error("empty dir accepted")
	}
}
