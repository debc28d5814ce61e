package guard

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func fittedRecord(t testing.TB) *Guard { return fittedWith(t, RecordConfig()) }

// records draws connection-like rows: a one-hot protocol (common, less
// common, rare), a log count whose level depends on the protocol, and a
// heavy-tailed log byte count shared by all.
func records(n int, seed uint64, proto func(*rand.Rand) int, countOf func(int) float64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 9))
	out := make([][]float64, n)
	for i := range out {
		p := proto(rng)
		r := make([]float64, 5)
		r[p] = 1
		r[3] = countOf(p) + 0.3*rng.NormFloat64()
		r[4] = math.Abs(3 * rng.NormFloat64())
		out[i] = r
	}
	return out
}

var recFeats = []string{"proto=a", "proto=b", "proto=c", "log_count", "log_bytes"}

func mixedProto(rng *rand.Rand) int {
	switch u := rng.Float64(); {
	case u < 0.9:
		return 0
	case u < 0.99:
		return 1
	}
	return 2
}

func protoCount(p int) float64 { return []float64{1, 5, 3}[p] }

// TestRecordFlagRates: the record guard keeps the false-flag budget on
// in-distribution inputs and flags inputs off the training support,
// including a pair of values each seen in training but never together
// (protocol a with protocol b's count).
func TestRecordFlagRates(t *testing.T) {
	g := fittedRecord(t)
	in := append(blob(3000, []float64{0, 0, 0, 0}, 11), blob(1000, []float64{12, 12, 0, 0}, 12)...)
	if fp := rate(t, g, in); fp > 0.015 {
		t.Errorf("in-distribution flag rate %.4f, want ≤ 0.015", fp)
	}
	for _, tc := range []struct {
		name   string
		centre []float64
		min    float64
	}{
		{"between the clusters", []float64{6, 6, 0, 0}, 0.95},
		{"new cluster on an unused axis", []float64{0, 0, 7, 0}, 0.99},
		{"mixed clusters' features", []float64{12, 0, 0, 0}, 0.95},
	} {
		if got := rate(t, g, blob(500, tc.centre, 21)); got < tc.min {
			t.Errorf("%s: flag rate %.3f, want ≥ %.2f", tc.name, got, tc.min)
		}
	}

	cfg := RecordConfig()
	cfg.Forest.Trees = 50
	h, err := Fit(cfg, recFeats, records(6000, 3, mixedProto, protoCount))
	if err != nil {
		t.Fatal(err)
	}
	if fp := rate(t, h, records(4000, 4, mixedProto, protoCount)); fp > 0.015 {
		t.Errorf("records: in-distribution flag rate %.4f, want ≤ 0.015", fp)
	}
	pairs := records(500, 5, func(*rand.Rand) int { return 0 }, func(int) float64 { return 5 })
	if got := rate(t, h, pairs); got < 0.95 {
		t.Errorf("records: protocol a with protocol b's count flagged %.3f, want ≥ 0.95", got)
	}
}

// TestRecordCombined: a record guard decides by the range check and the
// combined test only (an input extreme on one view reaches it through the
// fitted tail), and its signal carries the combined score.
func TestRecordCombined(t *testing.T) {
	g := fittedRecord(t)
	if len(g.Null) != 3 || len(g.Knots) != len(feats) || g.CombThreshold <= 0 {
		t.Fatalf("record guard: %d null samples, %d rank curves, combined threshold %v", len(g.Null), len(g.Knots), g.CombThreshold)
	}
	c, err := g.Check([]float64{6, 6, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Flagged || !c.ByCombined || c.ByDepth || c.ByDistance || c.ByRankDistance || c.RankDistance <= 0 {
		t.Fatalf("between the clusters: %+v", c)
	}
	s := g.Signal(c, Input{Model: "m", Time: time.Unix(1, 0).UTC(), EventIDs: []string{"e"}})
	if s.Details["combined_score"] != c.Combined || s.Details["rank_distance"] != c.RankDistance || !strings.Contains(s.Explanation, "rank space") {
		t.Errorf("signal details %v explanation %q", s.Details, s.Explanation)
	}
	// The views have no thresholds of their own here (the combined and
	// least-p tests do): the signal shows those, not zeros.
	for _, k := range []string{"isolation_threshold", "rank_distance_threshold"} {
		if v, ok := s.Details[k]; ok {
			t.Errorf("signal of a combined guard shows %s = %v", k, v)
		}
	}
	if s.Details["combined_threshold"] != g.CombThreshold || s.Details["min_p_threshold"] != g.MinPThreshold || s.Details["min_p_score"].(float64) <= 0 {
		t.Errorf("combined and least-p tests in the signal: %v", s.Details)
	}
	// A guard fitted without the record options stores none of their
	// fields: artifacts stay as they were.
	raw, err := fitted(t).Encode()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"knots", "knot_rank", "rank_threshold", "null", "comb_threshold"} {
		if _, ok := m[k]; ok {
			t.Errorf("default guard stores %s", k)
		}
	}
}

// TestRankOf: mid-rank shares are exact at training values (ties share
// their middle), linear between them, 0 below and 1 above the range; a 0/1
// slot moves by one half whatever its frequency.
func TestRankOf(t *testing.T) {
	col := []float64{0, 0, 0, 0, 0, 0, 1, 2, 4, 8}
	ks, rs := fitKnots(col)
	g := &Guard{Knots: [][]float64{ks}, KnotRank: [][]float64{rs}}
	for _, tc := range []struct{ v, want float64 }{
		{0, 0.3}, {1, 0.65}, {2, 0.75}, {3, 0.8}, {8, 0.95}, {-1, 0}, {9, 1},
	} {
		if got := g.rankOf(0, tc.v); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("rank of %v = %v, want %v", tc.v, got, tc.want)
		}
	}
	rare := make([]float64, 1000)
	rare[999] = 1
	ks, rs = fitKnots(rare)
	g = &Guard{Knots: [][]float64{ks}, KnotRank: [][]float64{rs}}
	if d := g.rankOf(0, 1) - g.rankOf(0, 0); math.Abs(d-0.5) > 1e-12 {
		t.Errorf("rare slot moves by %v, want 0.5", d)
	}
	long := make([]float64, 5000)
	for i := range long {
		long[i] = float64(i)
	}
	if ks, _ := fitKnots(long); len(ks) > maxKnots || ks[0] != 0 || ks[len(ks)-1] != 4999 {
		t.Errorf("%d knots from %v to %v", len(ks), ks[0], ks[len(ks)-1])
	}
}

// TestRecordArtifact: a record guard comes back from an artifact (indexes
// rebuilt) and from bare Params (exhaustive search) checking exactly as
// fitted, and malformed rank curves or null samples are refused.
func TestRecordArtifact(t *testing.T) {
	g := fittedRecord(t)
	h, raw := viaArtifact(t, g)
	var p Guard
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	for _, x := range append(blob(200, []float64{6, 3, 0, 1}, 41), blob(50, []float64{0, 0, 0, 0}, 42)...) {
		c1, _ := g.Check(x)
		for _, other := range []*Guard{h, &p} {
			c2, err := other.Check(x)
			if err != nil || c1.Flagged != c2.Flagged || c1.Combined != c2.Combined || c1.RankDistance != c2.RankDistance || c1.Distance != c2.Distance {
				t.Fatalf("%v: before %+v after %+v (%v)", x, c1, c2, err)
			}
		}
	}
	for name, mutate := range map[string]func(*Guard){
		"unsorted knots":     func(g *Guard) { g.Knots[0][0], g.Knots[0][1] = g.Knots[0][1], g.Knots[0][0] },
		"short shares":       func(g *Guard) { g.KnotRank[1] = g.KnotRank[1][:1] },
		"share above one":    func(g *Guard) { g.KnotRank[2][0] = 1.5 },
		"missing rank curve": func(g *Guard) { g.Knots = g.Knots[:2] },
		"two null samples":   func(g *Guard) { g.Null = g.Null[:2] },
		"unsorted null":      func(g *Guard) { g.Null[1][0] = g.Null[1][len(g.Null[1])-1] + 1 },
		"empty null":         func(g *Guard) { g.Null[0] = nil },
	} {
		bad := fittedRecord(t)
		mutate(bad)
		if err := bad.Validate(); err == nil {
			t.Errorf("%s: validated", name)
		}
	}
}

// BenchmarkCheck is the per-input cost of each configuration on 4,000
// training rows of 4 features.
func BenchmarkCheck(b *testing.B) {
	train := append(blob(3000, []float64{0, 0, 0, 0}, 1), blob(1000, []float64{12, 12, 0, 0}, 2)...)
	xs := blob(256, []float64{3, 3, 0, 0}, 61)
	for name, cfg := range map[string]Config{"default": DefaultConfig(), "record": RecordConfig()} {
		cfg.Forest.Trees = 100
		g, err := Fit(cfg, feats, train)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := g.Check(xs[i%len(xs)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTailBeyondSample: past the null sample's maximum a score's p keeps
// falling (so one extreme view can reach any threshold), continuously at
// the maximum and faster the farther out.
func TestTailBeyondSample(t *testing.T) {
	null := make([]float64, 1000)
	for i := range null {
		null[i] = float64(i) / 100 // 0 … 9.99, top 1% spans 0.1
	}
	g := &Guard{Null: [][]float64{null}}
	atMax, _ := g.fisher([]float64{9.99})
	prev := atMax
	for _, s := range []float64{10.5, 12, 20} {
		f, tip := g.fisher([]float64{s})
		if f != tip || f <= prev {
			t.Errorf("score %v: −log p %v (tippett %v), want above %v", s, f, tip, prev)
		}
		prev = f
	}
	if f, _ := g.fisher([]float64{20}); f < 50 {
		t.Errorf("score 20 (100 tail spreads out): −log p %v, want ≥ 50", f)
	}
	if f, _ := g.fisher([]float64{5}); math.Abs(f-math.Log(1001.0/501)) > 1e-9 {
		t.Errorf("median score: −log p %v", f)
	}
}

// TestRankRefSnap: reference rows read in rank space give a one-hot slot
// its training values' mid-rank shares exactly (a common slot's 1, rounded
// just above the greatest knot, used to read as share 1); a guard of
// format 1 (no version) keeps its old reading, which its thresholds were
// calibrated with, and a format from a newer build is refused.
func TestRankRefSnap(t *testing.T) {
	cfg := RecordConfig()
	cfg.Forest.Trees = 20
	g, err := Fit(cfg, recFeats, records(3000, 5, mixedProto, protoCount))
	if err != nil {
		t.Fatal(err)
	}
	if g.Version != FormatVersion {
		t.Fatalf("fitted guard has format %d", g.Version)
	}
	d := len(g.Features)
	rows, dims := g.rankRows()
	old := *g
	old.Version = 0
	oldRows, _ := old.rankRows()
	moved := 0
	for off := 0; off < len(rows); off += d {
		for i, j := range dims {
			if j > 2 { // the one-hot protocol slots
				continue
			}
			k := 0
			if g.Ref[off+j] > 0 {
				k = len(g.Knots[j]) - 1
			}
			if want := g.KnotRank[j][k]; rows[off+i] != want {
				t.Fatalf("row %d slot %s: rank %v, want %v", off/d, g.Features[j], rows[off+i], want)
			}
			if rows[off+i] != oldRows[off+i] {
				moved++
			}
		}
	}
	if moved == 0 {
		t.Error("format 1 reads the reference rows as format 2 does; the test shows nothing")
	}
	h, _ := viaArtifact(t, g)
	if h.Version != FormatVersion {
		t.Errorf("artifact round trip: format %d", h.Version)
	}
	g.Version = FormatVersion + 1
	if err := g.Validate(); err == nil {
		t.Error("a guard of a newer format validated")
	}
}
