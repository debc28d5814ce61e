package guard

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestIndexExact: the k-d tree search returns the distance an exhaustive
// scan returns, bit for bit, in both spaces and for K > 1, on records with
// one-hot slots and repeated rows (ties at split values), for training
// rows, near misses and far-off queries.
func TestIndexExact(t *testing.T) {
	rows := records(3000, 5, mixedProto, protoCount)
	for i := 0; i < 600; i++ {
		rows = append(rows, append([]float64(nil), rows[i%50]...))
	}
	for _, k := range []int{1, 3} {
		cfg := RecordConfig()
		cfg.Forest.Trees, cfg.K = 20, k
		g, err := Fit(cfg, recFeats, rows)
		if err != nil {
			t.Fatal(err)
		}
		if g.std == nil || g.std.nodes == nil || g.rank == nil || g.rank.nodes == nil {
			t.Fatal("fitted guard has no k-d trees")
		}
		plain := *g
		plain.std, plain.rank, plain.rankDims = nil, nil, nil
		rng := rand.New(rand.NewPCG(7, uint64(k)))
		queries := append([][]float64(nil), rows[:400]...)
		for range 400 {
			q := append([]float64(nil), rows[rng.IntN(len(rows))]...)
			q[rng.IntN(len(q))] += rng.NormFloat64() * math.Pow(10, float64(rng.IntN(4))-2)
			queries = append(queries, q)
		}
		queries = append(queries, []float64{1, 1, 1, 40, -3}, []float64{0, 0, 0, 0, 0})
		for i, q := range queries {
			if a, b := g.knn(q), plain.knn(q); a != b {
				t.Fatalf("k=%d query %d: indexed distance %v, exhaustive %v", k, i, a, b)
			}
			if a, b := g.rankKNN(q), plain.rankKNN(q); a != b {
				t.Fatalf("k=%d query %d: indexed rank distance %v, exhaustive %v", k, i, a, b)
			}
		}
	}
}
