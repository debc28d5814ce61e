package guard

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/signal"
)

var feats = []string{"bytes", "pkts", "dur", "ratio"}

// blob draws n rows around centre with unit noise (deterministic).
func blob(n int, centre []float64, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([][]float64, n)
	for i := range out {
		r := make([]float64, len(centre))
		for j, c := range centre {
			r[j] = c + rng.NormFloat64()
		}
		out[i] = r
	}
	return out
}

func fitted(t *testing.T) *Guard { return fittedWith(t, DefaultConfig()) }

// fittedWith fits cfg (with a 50-tree forest) on two blobs of training rows.
func fittedWith(t testing.TB, cfg Config) *Guard {
	t.Helper()
	cfg.Forest.Trees = 50
	train := append(blob(3000, []float64{0, 0, 0, 0}, 1), blob(1000, []float64{12, 12, 0, 0}, 2)...)
	g, err := Fit(cfg, feats, train)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func rate(t *testing.T, g *Guard, rows [][]float64) float64 {
	t.Helper()
	n := 0
	for _, r := range rows {
		c, err := g.Check(r)
		if err != nil {
			t.Fatal(err)
		}
		if c.Flagged {
			n++
		}
	}
	return float64(n) / float64(len(rows))
}

func TestFlagRates(t *testing.T) {
	g := fitted(t)
	in := append(blob(3000, []float64{0, 0, 0, 0}, 11), blob(1000, []float64{12, 12, 0, 0}, 12)...)
	if fp := rate(t, g, in); fp > 0.015 {
		t.Errorf("in-distribution flag rate %.4f, want ≤ 0.015", fp)
	}
	tests := []struct {
		name   string
		centre []float64
		min    float64
	}{
		{"between the clusters", []float64{6, 6, 0, 0}, 0.95},
		{"new cluster on an unused axis", []float64{0, 0, 7, 0}, 0.99},
		{"mixed clusters' features", []float64{12, 0, 0, 0}, 0.95},
	}
	for _, tc := range tests {
		if got := rate(t, g, blob(500, tc.centre, 21)); got < tc.min {
			t.Errorf("%s: flag rate %.3f, want ≥ %.2f", tc.name, got, tc.min)
		}
	}
}

func TestSignalNamesFeatures(t *testing.T) {
	g := fitted(t)
	c, err := g.Check([]float64{0, 0, 40, 0})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Flagged || !c.ByRange || len(c.Out) != 1 || c.Out[0].Feature != "dur" {
		t.Fatalf("check %+v", c)
	}
	s := g.Signal(c, Input{Model: "kdd", Hash: "sha256:ab", Time: time.Unix(1, 0).UTC(), EventIDs: []string{"e1"},
		Entities: []signal.Entity{{Kind: "ip", Value: "10.0.0.1"}}})
	if s.Detector != Detector || s.RuleID != RuleID || s.Layer != signal.LayerML || s.EventIDs[0] != "e1" {
		t.Errorf("signal %+v", s)
	}
	if !strings.Contains(s.Explanation, "dur=40") || s.Details["features_out_of_range"].([]string)[0] != "dur" {
		t.Errorf("explanation %q details %v", s.Explanation, s.Details)
	}
	if s.ID != signal.DeriveID(Detector, RuleID, "kdd", "e1") {
		t.Error("signal id not derived from model and event")
	}
	// An ordinary input is not flagged.
	if c, _ := g.Check([]float64{0.1, -0.2, 0.3, 0}); c.Flagged {
		t.Errorf("ordinary input flagged: %+v", c)
	}
}

func TestErrors(t *testing.T) {
	g := fitted(t)
	if _, err := g.Check([]float64{1, 2}); !errors.Is(err, ErrDim) {
		t.Errorf("short vector: %v", err)
	}
	if _, err := g.Check([]float64{math.NaN(), 0, 0, 0}); err == nil || !strings.Contains(err.Error(), "bytes") {
		t.Errorf("NaN: %v", err)
	}
	if _, err := Fit(DefaultConfig(), feats, blob(10, []float64{0, 0, 0, 0}, 1)); err == nil {
		t.Error("10 rows accepted")
	}
	bad := DefaultConfig()
	bad.Rate = 0
	if _, err := Fit(bad, feats, blob(100, []float64{0, 0, 0, 0}, 1)); err == nil {
		t.Error("zero rate accepted")
	}
	if _, err := Fit(DefaultConfig(), feats, [][]float64{{1, 2, 3}}); !errors.Is(err, ErrDim) {
		t.Errorf("ragged rows: %v", err)
	}
}

func TestMonitor(t *testing.T) {
	g := fitted(t)
	cfg := DefaultMonitorConfig()
	cfg.Window = time.Minute
	if _, err := NewMonitor(g, cfg); !errors.Is(err, ErrNoStreamRef) {
		t.Fatalf("monitor without a reference: %v", err)
	}
	ref, err := FitStreamRef("training rows", feats, append(blob(3000, []float64{0, 0, 0, 0}, 1), blob(1000, []float64{12, 12, 0, 0}, 2)...))
	if err != nil {
		t.Fatal(err)
	}
	g.Stream = ref
	if err := g.Validate(); err != nil {
		t.Fatalf("guard with a reference: %v", err)
	}
	m, err := NewMonitor(g, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(0, 0).UTC()
	var found []*Shift
	feed := func(rows [][]float64, from time.Time, every time.Duration) {
		for i, r := range rows {
			s, err := m.Observe(r, from.Add(time.Duration(i)*every))
			if err != nil {
				t.Fatal(err)
			}
			if s != nil {
				found = append(found, s)
			}
		}
	}
	mix := func(seed uint64) [][]float64 {
		in := append(blob(300, []float64{0, 0, 0, 0}, seed), blob(100, []float64{12, 12, 0, 0}, seed+1)...)
		rand.New(rand.NewPCG(seed, 1)).Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		return in
	}
	// Eight minutes of the training mix at 400 a minute: nothing shifts.
	for w := range 8 {
		feed(mix(uint64(40+2*w)), t0.Add(time.Duration(w)*time.Minute), 150*time.Millisecond)
	}
	// Then only the second cluster, at the same rate.
	feed(blob(400, []float64{12, 12, 0, 0}, 33), t0.Add(8*time.Minute), 150*time.Millisecond)
	// Then the training mix, eight times faster.
	var burst [][]float64
	for k := range 8 {
		burst = append(burst, mix(uint64(90+2*k))...)
	}
	feed(burst, t0.Add(9*time.Minute), 15*time.Millisecond)
	feed(append(mix(98), mix(100)...)[:1], t0.Add(10*time.Minute), time.Second)
	if len(found) != 10 {
		t.Fatalf("%d windows closed, want 10", len(found))
	}
	for i, s := range found[:8] {
		if s.Anomalous() || !s.Compared || s.Inputs != 400 {
			t.Errorf("in-distribution window %d: %+v", i, s)
		}
	}
	s := found[8]
	names := map[string]bool{}
	for _, f := range s.Shifted {
		names[f.Feature] = true
	}
	if !names["bytes"] || !names["pkts"] || names["ratio"] || s.RateAnomalous {
		t.Errorf("shifted window: %+v", s)
	}
	if s = found[9]; len(s.Shifted) != 0 || !s.RateAnomalous || s.Median != 400 || s.Inputs != 3200 {
		t.Errorf("burst window: %+v", s)
	}
	// A far-future timestamp opens a window of its own; the next ordinary
	// input closes it instead of joining it.
	if s, err := m.Observe(burst[0], t0.Add(10*time.Minute+time.Second)); err != nil || s != nil {
		t.Fatalf("input in the open window: %+v, %v", s, err)
	}
	if s, err := m.Observe(burst[0], t0.Add(24*365*time.Hour)); err != nil || s == nil || s.Inputs != 2 {
		t.Fatalf("far-future input: %+v, %v", s, err)
	}
	if s, err := m.Observe(burst[1], t0.Add(11*time.Minute)); err != nil || s == nil || s.Inputs != 1 {
		t.Fatalf("ordinary input after a far-future one: %+v, %v", s, err)
	}
	if s := m.Close(); s == nil || s.Inputs != 1 || s.Compared || s.Anomalous() {
		t.Errorf("closing a one-input window: %+v", s)
	}
	if s := m.Close(); s != nil {
		t.Errorf("closing an empty window: %+v", s)
	}
	if _, err := NewMonitor(g, MonitorConfig{Window: time.Minute}); err == nil {
		t.Error("invalid config accepted")
	}
	if _, err := FitStreamRef("rows", feats, blob(50, []float64{0, 0, 0, 0}, 3)); err == nil {
		t.Error("reference from 50 rows accepted")
	}
	// A reference that does not match the features is refused with the guard.
	g.Stream.Shares[1] = g.Stream.Shares[1][:1]
	if err := g.Validate(); err == nil || !strings.Contains(err.Error(), "monitor reference") {
		t.Errorf("malformed reference: %v", err)
	}
}

// TestSerialise checks a guard survives the model artifact round trip
// (it is stored beside the model it guards) and checks identically.
func TestSerialise(t *testing.T) {
	g := fitted(t)
	a, err := model.New(model.Body{Kind: "guard", Name: "g", Version: "1", Lineage: model.Lineage{ContentHash: "sha256:00"}}, g)
	if err != nil {
		t.Fatal(err)
	}
	data, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	var h Guard
	if err := b.Params(&h); err != nil {
		t.Fatal(err)
	}
	for _, x := range [][]float64{{0, 0, 0, 0}, {6, 6, 0, 0}, {0, 0, 40, 0}, {12, 12, 1, -1}} {
		c1, _ := g.Check(x)
		c2, err := h.Check(x)
		if err != nil || c1.Flagged != c2.Flagged || c1.Distance != c2.Distance || c1.Depth != c2.Depth || c1.RangeScore != c2.RangeScore {
			t.Errorf("%v: before %+v after %+v (%v)", x, c1, c2, err)
		}
	}
}

// TestInputGuardInArtifact: the guard stored as a model's InputGuard comes
// back through FromArtifact (pivot index rebuilt) checking exactly as the
// fitted one; Params decoding above skips the index, so equal distances
// there also pin the indexed search to the exhaustive one.
func TestInputGuardInArtifact(t *testing.T) {
	g := fitted(t)
	h, _ := viaArtifact(t, g)
	for _, x := range blob(200, []float64{6, 3, 0, 1}, 41) {
		c1, _ := g.Check(x)
		c2, err := h.Check(x)
		if err != nil || c1.Flagged != c2.Flagged || c1.Distance != c2.Distance {
			t.Fatalf("%v: before %+v after %+v (%v)", x, c1, c2, err)
		}
	}
	old, _ := model.New(model.Body{Kind: "x", Name: "m", Version: "0"}, map[string]int{})
	if _, err := FromArtifact(old); !errors.Is(err, ErrNoGuard) {
		t.Errorf("artifact without a guard: %v", err)
	}
	for name, mutate := range map[string]func(*Guard){
		"short scale":     func(g *Guard) { g.Scale = g.Scale[:2] },
		"zero spread":     func(g *Guard) { g.Spread[0] = 0 },
		"ragged refs":     func(g *Guard) { g.Ref = g.Ref[:len(g.Ref)-1] },
		"looping tree":    func(g *Guard) { g.Forest.Trees[0].Nodes[0].Left = 0 },
		"feature too far": func(g *Guard) { g.Forest.Trees[0].Nodes[0].Feature = 99 },
	} {
		bad := fitted(t)
		mutate(bad)
		if err := bad.Validate(); err == nil {
			t.Errorf("%s: validated", name)
		}
	}
}

// TestUnseenValue: a feature with one value in all training rows (a
// category never seen, a character class never used) flags any other
// value, however small, and the check names it.
func TestUnseenValue(t *testing.T) {
	rows := blob(2000, []float64{0, 0, 0, 0}, 51)
	for _, r := range rows {
		r[3] = 0 // "ratio" never varies in training
	}
	cfg := DefaultConfig()
	cfg.Forest.Trees = 30
	g, err := Fit(cfg, feats, rows)
	if err != nil {
		t.Fatal(err)
	}
	c, err := g.Check([]float64{0.1, 0.2, -0.1, 0.001})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Flagged || !c.ByUnseen || len(c.Out) == 0 || c.Out[0].Feature != "ratio" {
		t.Fatalf("unseen value: %+v", c)
	}
	if c, _ := g.Check([]float64{0.1, 0.2, -0.1, 0}); c.ByUnseen {
		t.Errorf("training value flagged as unseen: %+v", c)
	}
}

// viaArtifact stores g as a model's InputGuard, encodes and decodes the
// model and loads the guard back; it returns the guard and its encoding.
func viaArtifact(t *testing.T, g *Guard) (*Guard, []byte) {
	t.Helper()
	raw, err := g.Encode()
	if err != nil {
		t.Fatal(err)
	}
	a, err := model.New(model.Body{Kind: "x", Name: "m", Version: "1", InputGuard: raw}, map[string]int{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	h, err := FromArtifact(b)
	if err != nil {
		t.Fatal(err)
	}
	return h, raw
}
