package mleval

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/rampart-ids/rampart/internal/eval"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// TestZeekFlowsSuite checks the suite runs, is deterministic for a seed and
// reports its keys. The goal (AUC >= 0.90) is NOT reached: with seed 1 the
// pooled AUC is 0.1087 and precision in the top 5% 0.5778, because in these
// captures the malicious flows are the bulk (inbound scans and brute force:
// 7,818 malicious vs 3,348 benign flows), so a rarity model ranks them low.
// The bounds below pin the measured behaviour so a change is noticed.
func TestZeekFlowsSuite(t *testing.T) {
	dir := testutil.SharedData(t, "stratosphere-zeek")
	run := func() *ZeekFlowsResult {
		r, err := runZeekFlows(context.Background(), eval.Options{Data: dir, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		return r.(*ZeekFlowsResult)
	}
	res := run()
	if testing.Verbose() {
		_ = res.Table(os.Stdout)
	}
	if len(res.Folders) != 3 {
		t.Errorf("folders %d, want 3 (001, 008, 010)", len(res.Folders))
	}
	if math.IsNaN(res.AUC) || res.AUC < 0.05 || res.AUC > 0.2 {
		t.Errorf("pooled AUC %.4f moved from the measured 0.1087", res.AUC)
	}
	j := res.JSON()
	for _, k := range []string{"auc", "precision_at_budget"} {
		if _, ok := j[k]; !ok {
			t.Errorf("JSON lacks %s", k)
		}
	}
	if again := run(); again.AUC != res.AUC || again.PrecisionAtBudget != res.PrecisionAtBudget {
		t.Error("two runs with one seed differ")
	}
}

func TestPrecisionAtTop(t *testing.T) {
	got := precisionAtTop([]float64{0.9, 0.8, 0.1, 0.2}, []bool{true, false, false, false}, 0.5)
	if got != 0.5 {
		t.Errorf("precision@50%% = %v, want 0.5", got)
	}
}

func TestJSONWithoutBothClasses(t *testing.T) {
	r := &ZeekFlowsResult{AUC: math.NaN(), PrecisionAtBudget: math.NaN(), Folders: []ZeekFolder{{Name: "x", AUC: math.NaN()}}}
	if _, err := json.Marshal(r.JSON()); err != nil {
		t.Errorf("JSON with NaN AUC: %v", err)
	}
}
