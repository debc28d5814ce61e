package mleval

import (
	"context"
	"os"
	"testing"

	"github.com/rampart-ids/rampart/internal/eval"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// TestHTTPParamsSuite asserts what 5-fold CV measured with seed 1
// (precision 1.0000, recall 0.9974, F1 0.9987), minus a small margin.
func TestHTTPParamsSuite(t *testing.T) {
	dir := testutil.SharedData(t, "http-params")
	r, err := runHTTPParams(context.Background(), eval.Options{Data: dir, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	res := r.(*HTTPParamsResult)
	if testing.Verbose() {
		_ = res.Table(os.Stdout)
	}
	if res.F1 < 0.995 || res.Precision < 0.995 || res.Recall < 0.995 {
		t.Errorf("precision %.4f recall %.4f F1 %.4f, want each >= 0.995", res.Precision, res.Recall, res.F1)
	}
	for typ, min := range map[string]float64{"sqli": 0.998, "xss": 0.98, "path-traversal": 0.96, "cmdi": 0.75} {
		if got := res.Types[typ].Recall; got < min {
			t.Errorf("%s recall %.4f, want >= %.2f", typ, got, min)
		}
	}
	if len(res.Examples) == 0 {
		t.Error("no explanation examples")
	}
}
