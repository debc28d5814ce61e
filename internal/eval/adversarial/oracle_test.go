package adversarial

import (
	"math/rand/v2"
	"testing"

	"github.com/rampart-ids/rampart/internal/ml/guard"
)

// TestOracleSingleView: inputs far outside the training support are all
// within a view's reach at a 1% false-flag budget; inputs drawn like the
// in-distribution rows are not (about the budget, never much more).
func TestOracleSingleView(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	draw := func(n int, shift float64) [][]float64 {
		rows := make([][]float64, n)
		for i := range rows {
			rows[i] = []float64{rng.NormFloat64() + shift, rng.NormFloat64() + shift, rng.NormFloat64()}
		}
		return rows
	}
	g, err := guard.Fit(guard.DefaultConfig(), []string{"a", "b", "c"}, draw(3000, 0))
	if err != nil {
		t.Fatal(err)
	}
	id := func(v []float64) ([]float64, error) { return v, nil }
	checks := func(rows [][]float64) []guard.Check {
		cs, err := checkAll(g, rows, id)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	in := checks(draw(2000, 0))
	if far := oracleSingleView(checks(draw(300, 8)), in, 0.01); far != 1 {
		t.Errorf("rows 8 standard deviations out: oracle %v, want 1", far)
	}
	if same := oracleSingleView(checks(draw(2000, 0)), in, 0.01); same > 0.03 {
		t.Errorf("rows like the in-distribution ones: oracle %v, want about the 0.01 budget", same)
	}
}
