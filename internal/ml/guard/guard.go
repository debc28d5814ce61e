// Package guard is the ML input guard (issue 4): before a model scores a
// vector, the guard checks it against the model's training support, so an
// input unlike anything the model learned never scores silently as benign.
//
// Checks on the inputs themselves:
//   - unseen value: a feature that had one value in every training row
//     (a category slot never set, a character class never used) and now
//     has another is outside the support by construction;
//   - range: per-feature training quantiles [Lo, Hi]; the score is the sum
//     over features of how far a value lies outside, in units of the
//     feature's spread, capped per feature so one feature cannot dominate;
//   - isolation depth: an isolation forest grown on the training inputs
//     (all classes: it measures support, not maliciousness);
//   - neighbour distance: the distance to the K-th nearest of up to
//     RefSize training rows, each feature in units of its standard
//     deviation (a rare category weighs as much as its rarity).
//
// The last three are calibrated together on a held-back slice of the
// training rows: each gets the same tail level, chosen so that their union
// flags Config.Rate of those in-distribution rows. Nothing is tuned on
// out-of-support data.
//
// A Monitor adds the stream view over event-time windows: each window's
// feature distributions against a training reference stored with the guard
// (StreamRef; population stability index) and its input count against the
// band of recent windows.
package guard

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/rampart-ids/rampart/internal/ml/iforest"
	"github.com/rampart-ids/rampart/internal/signal"
)

// Detector and RuleID of guard signals.
const (
	Detector = "input_guard"
	RuleID   = "model-input-anomaly"
)

// Config shapes a guard.
type Config struct {
	// LoQ and HiQ are the quantiles bounding each feature's support.
	LoQ, HiQ float64
	// Cap bounds one feature's share of the range score (in spreads).
	Cap float64
	// Rate is the share of in-distribution inputs the range, depth and
	// distance checks together may flag.
	Rate float64
	// Holdout is the share of training rows kept back for calibration.
	Holdout float64
	// Forest shapes the isolation forest on the inputs.
	Forest iforest.Config
	// RefSize bounds the reference rows kept for the distance check; K is
	// the neighbour whose distance is the score.
	RefSize, K int
	// MaxRows bounds training rows.
	MaxRows int
}

// DefaultConfig flags about 1% of in-distribution inputs. A third of the
// training rows calibrate: the thresholds sit in the top 0.5% of scores,
// where a fifth of the rows left the NSL-KDD thresholds (and the false-flag
// rate) varying from seed to seed.
func DefaultConfig() Config {
	fc := iforest.DefaultConfig()
	return Config{LoQ: 0.001, HiQ: 0.999, Cap: 10, Rate: 0.01, Holdout: 1.0 / 3, Forest: fc, RefSize: 20000, K: 1, MaxRows: 5_000_000}
}

// Guard is a fitted input guard. Exported fields serialise with the model.
type Guard struct {
	Features []string  `json:"features"`
	Lo       []float64 `json:"lo"`
	Hi       []float64 `json:"hi"`
	Spread   []float64 `json:"spread"` // unit of the range score per feature
	Median   []float64 `json:"median"`
	// Fixed marks features with one value (Median) in every training row
	// (none when there were too few rows to trust that).
	Fixed []bool  `json:"fixed"`
	Cap   float64 `json:"cap"`
	// RangeThreshold, DepthThreshold and DistThreshold are the calibrated
	// cut-offs; Alpha is the tail level each was set at.
	RangeThreshold float64 `json:"range_threshold"`
	DepthThreshold float64 `json:"depth_threshold"`
	DistThreshold  float64 `json:"dist_threshold"`
	Alpha          float64 `json:"alpha"`
	// Ref holds reference rows (row-major, divided by Scale) for the
	// k-nearest-neighbour distance; K is the neighbour used.
	Ref    []float64       `json:"ref"`
	Scale  []float64       `json:"scale"`
	K      int             `json:"k"`
	Forest *iforest.Forest `json:"forest"`
	// Bins holds per-feature decile edges of the training data for the
	// shift monitor.
	Bins [][]float64 `json:"bins"`
	// Shares[j][b] is the share of training rows in feature j's bin b.
	Shares [][]float64 `json:"shares"`
	Rows   int         `json:"rows"`
	// Stream is the shift monitor's reference (monitor.go); nil in
	// artifacts trained before it, which leaves the monitor off.
	Stream *StreamRef `json:"stream,omitempty"`

	// pivot and pdist index Ref for knn (rebuilt by index, not stored).
	pivot, pdist []float64
}

// ErrDim means a vector has the wrong number of features.
var ErrDim = errors.New("wrong number of features")

// Fit builds a guard from training rows (every class the model learns).
func Fit(cfg Config, features []string, rows [][]float64) (*Guard, error) {
	if cfg.RefSize < 10 || cfg.K < 1 || cfg.K > cfg.RefSize || cfg.Rate <= 0 || cfg.Rate >= 0.5 || cfg.Holdout <= 0 || cfg.Holdout >= 0.9 || cfg.LoQ < 0 || cfg.HiQ > 1 || cfg.LoQ >= cfg.HiQ || cfg.Cap <= 0 {
		return nil, fmt.Errorf("fitting input guard: invalid config %+v", cfg)
	}
	if cfg.MaxRows > 0 && len(rows) > cfg.MaxRows {
		return nil, fmt.Errorf("fitting input guard: %d rows exceed the limit of %d", len(rows), cfg.MaxRows)
	}
	d := len(features)
	for i, r := range rows {
		if len(r) != d {
			return nil, fmt.Errorf("fitting input guard: row %d has %d values, want %d: %w", i, len(r), d, ErrDim)
		}
		for j, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("fitting input guard: row %d feature %s is %v", i, features[j], v)
			}
		}
	}
	// Every k-th row calibrates; the rest define the support.
	k := max(2, int(math.Round(1/cfg.Holdout)))
	var fit, cal [][]float64
	for i, r := range rows {
		if i%k == k-1 {
			cal = append(cal, r)
		} else {
			fit = append(fit, r)
		}
	}
	if len(fit) < 20 || len(cal) < 10 {
		return nil, fmt.Errorf("fitting input guard: %d rows are too few", len(rows))
	}
	g := &Guard{Features: append([]string(nil), features...), Cap: cfg.Cap, Rows: len(rows),
		Lo: make([]float64, d), Hi: make([]float64, d), Spread: make([]float64, d), Median: make([]float64, d), Fixed: make([]bool, d),
		Bins: make([][]float64, d), Shares: make([][]float64, d), Scale: make([]float64, d), K: cfg.K}
	col := make([]float64, len(fit))
	for j := 0; j < d; j++ {
		for i, r := range fit {
			col[i] = r[j]
		}
		sort.Float64s(col)
		g.Lo[j], g.Hi[j] = quantile(col, cfg.LoQ), quantile(col, cfg.HiQ)
		g.Median[j] = quantile(col, 0.5)
		// Fixed: one value in every fit row. Calibration rows that differ
		// count against the flag budget of the other checks.
		g.Fixed[j] = col[0] == col[len(col)-1]
		// Spread: the support's width, or (for features constant in
		// training) a unit scale so any departure counts but stays capped.
		g.Spread[j] = g.Hi[j] - g.Lo[j]
		if g.Spread[j] <= 0 {
			g.Spread[j] = math.Max(math.Abs(g.Median[j])*0.1, 1e-3)
		}
		edges := deciles(col)
		// Distance unit: the standard deviation, so a rare value (a
		// category slot set in 1 row of 1,000) counts by its rarity; a
		// floor keeps near-constant features from dominating everything.
		mean, ss := 0.0, 0.0
		for _, v := range col {
			mean += v
		}
		mean /= float64(len(col))
		for _, v := range col {
			ss += (v - mean) * (v - mean)
		}
		g.Scale[j] = math.Sqrt(ss / float64(len(col)))
		if floor := 1e-3 * math.Max(1, math.Abs(mean)); g.Scale[j] < floor {
			g.Scale[j] = floor
		}
		g.Bins[j], g.Shares[j] = edges, shares(edges, col)
	}
	// Reference rows: distinct fit rows in distance units, rounded to 1e-4
	// of a unit (plenty for a distance, and a smaller artifact), an even
	// stride through them when there are more than RefSize (deterministic).
	seen := map[string]bool{}
	var refs [][]float64
	for _, r := range fit {
		row := make([]float64, d)
		for j, v := range r {
			row[j] = math.Round(v/g.Scale[j]*1e4) / 1e4
		}
		if key := fmt.Sprint(row); g.K > 1 || !seen[key] {
			seen[key] = true
			refs = append(refs, row)
		}
	}
	step := max(1, (len(refs)+cfg.RefSize-1)/cfg.RefSize)
	for i := 0; i < len(refs); i += step {
		g.Ref = append(g.Ref, refs[i]...)
	}
	g.index()
	fc := cfg.Forest
	fc.TargetRate = cfg.Rate / 3
	f, err := iforest.Fit(fc, features, fit)
	if err != nil {
		return nil, fmt.Errorf("fitting input guard: %w", err)
	}
	g.Forest = f
	rs, ds, ks := make([]float64, len(cal)), make([]float64, len(cal)), make([]float64, len(cal))
	unseen := make([]bool, len(cal))
	for i, r := range cal {
		rs[i], _ = g.rangeScore(r, nil)
		ds[i] = g.depth(r)
		ks[i] = g.knn(r)
		unseen[i] = g.unseen(r)
	}
	g.calibrate(rs, ds, ks, unseen, cfg.Rate)
	return g, nil
}

// unseen reports a feature fixed in training with another value.
func (g *Guard) unseen(x []float64) bool {
	for j, v := range x {
		if g.Fixed[j] && v != g.Median[j] {
			return true
		}
	}
	return false
}

// calibrate sets the three thresholds at one tail level alpha, the largest
// whose union with the unseen-value flags stays within the budget of rate
// on the calibration rows.
func (g *Guard) calibrate(rs, ds, ks []float64, unseen []bool, rate float64) {
	n := len(rs)
	srs, sds, sks := sorted(rs), sorted(ds), sorted(ks)
	set := func(alpha float64) int {
		g.Alpha = alpha
		g.RangeThreshold = quantile(srs, 1-alpha)
		g.DepthThreshold = quantile(sds, 1-alpha)
		g.DistThreshold = quantile(sks, 1-alpha)
		flagged := 0
		for i := 0; i < n; i++ {
			if unseen[i] || rs[i] > g.RangeThreshold || ds[i] > g.DepthThreshold || ks[i] > g.DistThreshold {
				flagged++
			}
		}
		return flagged
	}
	lo, hi := 0.0, rate // the union flags at least alpha of the rows
	// A new input exceeds a threshold set at a calibration row with
	// probability about (rows above + 1)/(n + 1), one "+1" per check: the
	// budget leaves that room so the rate holds out of sample.
	// With few calibration rows the budget is 0 and the thresholds sit at
	// the calibration maxima.
	budget := max(0, int(math.Floor(rate*float64(n+1)))-3)
	// The unseen-value check stays only while it would use at most half
	// the budget: with few training rows many features look fixed and
	// ordinary inputs would break them.
	u := 0
	for _, b := range unseen {
		if b {
			u++
		}
	}
	if 2*(u+1) > budget {
		clear(g.Fixed)
		unseen = make([]bool, n)
	}
	for range 40 {
		mid := (lo + hi) / 2
		if set(mid) <= budget {
			lo = mid
		} else {
			hi = mid
		}
	}
	set(lo)
}

func sorted(xs []float64) []float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s
}

// depth is the isolation forest's score of x without the attributions
// Forest.Score builds (the guard runs on every input).
func (g *Guard) depth(x []float64) float64 {
	f := g.Forest
	sum := 0.0
	for i := range f.Trees {
		nodes := f.Trees[i].Nodes
		n, depth := 0, 0
		for nodes[n].Feature >= 0 {
			nd := nodes[n]
			if x[nd.Feature] < nd.Split {
				n = int(nd.Left)
			} else {
				n = int(nd.Right)
			}
			depth++
		}
		sum += float64(depth) + avgPath(nodes[n].Size)
	}
	return math.Pow(2, -sum/float64(len(f.Trees))/avgPath(min(f.Cfg.SampleSize, f.Rows)))
}

// avgPath is the mean path length of an unsuccessful search in a binary
// search tree of n rows (the isolation forest's normaliser).
func avgPath(n int) float64 {
	switch {
	case n <= 1:
		return 0
	case n == 2:
		return 1
	}
	return 2*(math.Log(float64(n-1))+0.5772156649) - 2*float64(n-1)/float64(n)
}

// index orders the reference rows by their distance to a pivot (their
// centroid) so knn can skip rows the triangle inequality rules out:
// |d(x,p) − d(r,p)| ≤ d(x,r).
func (g *Guard) index() {
	d := len(g.Features)
	n := len(g.Ref) / d
	if n == 0 {
		return
	}
	g.pivot = make([]float64, d)
	for off := 0; off < len(g.Ref); off += d {
		for j := range d {
			g.pivot[j] += g.Ref[off+j] / float64(n)
		}
	}
	type row struct {
		dist float64
		off  int
	}
	rows := make([]row, n)
	for i := range rows {
		rows[i] = row{dist2(g.Ref[i*d:(i+1)*d], g.pivot, math.Inf(1)), i * d}
	}
	sort.SliceStable(rows, func(a, b int) bool { return rows[a].dist < rows[b].dist })
	ref := make([]float64, 0, len(g.Ref))
	g.pdist = make([]float64, n)
	for i, r := range rows {
		ref = append(ref, g.Ref[r.off:r.off+d]...)
		g.pdist[i] = math.Sqrt(r.dist)
	}
	g.Ref = ref
}

// dist2 is the squared Euclidean distance, abandoned (returned as is)
// once it reaches bound.
func dist2(a, b []float64, bound float64) float64 {
	s := 0.0
	for j, v := range a {
		e := v - b[j]
		s += e * e
		if s >= bound {
			return s
		}
	}
	return s
}

// knn is the Euclidean distance (in Scale units) from x to its K-th
// nearest reference row. It walks outward from x's place in the pivot
// order and stops each way once no further row can be nearer.
func (g *Guard) knn(x []float64) float64 {
	d := len(x)
	if d == 0 || len(g.Ref) < d {
		return 0
	}
	xs := make([]float64, d)
	for j, v := range x {
		xs[j] = v / g.Scale[j]
	}
	n := len(g.Ref) / d
	best := make([]float64, 0, g.K+1) // ascending squared distances
	bound := math.Inf(1)
	consider := func(i int) {
		s := dist2(xs, g.Ref[i*d:(i+1)*d], bound)
		if s >= bound {
			return
		}
		k := sort.SearchFloat64s(best, s)
		best = append(best, 0)
		copy(best[k+1:], best[k:])
		best[k] = s
		if len(best) > g.K {
			best = best[:g.K]
		}
		if len(best) == g.K {
			bound = best[g.K-1]
		}
	}
	if len(g.pdist) != n || g.pivot == nil {
		for i := range n {
			consider(i)
		}
		return math.Sqrt(best[len(best)-1])
	}
	px := math.Sqrt(dist2(xs, g.pivot, math.Inf(1)))
	hi := sort.SearchFloat64s(g.pdist, px)
	lo := hi - 1
	for lo >= 0 || hi < n {
		r := math.Sqrt(bound)
		okLo := lo >= 0 && px-g.pdist[lo] < r
		okHi := hi < n && g.pdist[hi]-px < r
		if !okLo && !okHi {
			break
		}
		// Take the side whose next row is nearer in pivot distance.
		if okLo && (!okHi || px-g.pdist[lo] <= g.pdist[hi]-px) {
			consider(lo)
			lo--
		} else {
			consider(hi)
			hi++
		}
	}
	return math.Sqrt(best[len(best)-1])
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}

// OutOfRange is one feature outside the training support.
type OutOfRange struct {
	Feature string  `json:"feature"`
	Value   float64 `json:"value"`
	Lo      float64 `json:"lo"`
	Hi      float64 `json:"hi"`
	// Excess is the distance outside [Lo, Hi] in spreads (capped).
	Excess float64 `json:"excess"`
}

// Check is the guard's verdict on one input.
type Check struct {
	Flagged    bool
	RangeScore float64 // sum of capped excesses
	Depth      float64 // isolation score of the input among training inputs
	Distance   float64 // scaled distance to the K-th nearest reference row
	// ByUnseen: a feature fixed in training has another value.
	ByUnseen   bool
	ByRange    bool
	ByDepth    bool
	ByDistance bool
	// Out lists features outside their range, largest excess first.
	Out []OutOfRange
	// Unusual names the features the isolation forest credits most, for
	// inputs flagged by depth with every value inside its range.
	Unusual []string
}

func (g *Guard) rangeScore(x []float64, out *[]OutOfRange) (float64, error) {
	s := 0.0
	for j, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("checking input: feature %s is %v", g.Features[j], v)
		}
		var e float64
		switch {
		case v > g.Hi[j]:
			e = (v - g.Hi[j]) / g.Spread[j]
		case v < g.Lo[j]:
			e = (g.Lo[j] - v) / g.Spread[j]
		default:
			continue
		}
		e = math.Min(e, g.Cap)
		s += e
		if out != nil {
			*out = append(*out, OutOfRange{Feature: g.Features[j], Value: v, Lo: g.Lo[j], Hi: g.Hi[j], Excess: e})
		}
	}
	return s, nil
}

// Check tests one input vector.
func (g *Guard) Check(x []float64) (Check, error) {
	if len(x) != len(g.Features) {
		return Check{}, fmt.Errorf("checking %d values for %d features: %w", len(x), len(g.Features), ErrDim)
	}
	var c Check
	var err error
	if c.RangeScore, err = g.rangeScore(x, &c.Out); err != nil {
		return Check{}, err
	}
	c.ByUnseen = g.unseen(x)
	c.Depth = g.depth(x)
	c.ByRange = c.RangeScore > g.RangeThreshold
	c.ByDepth = c.Depth > g.DepthThreshold
	c.Distance = g.knn(x)
	c.ByDistance = c.Distance > g.DistThreshold
	c.Flagged = c.ByUnseen || c.ByRange || c.ByDepth || c.ByDistance
	sort.SliceStable(c.Out, func(a, b int) bool { return c.Out[a].Excess > c.Out[b].Excess })
	if c.Flagged && len(c.Out) == 0 {
		res, err := g.Forest.Score(x)
		if err != nil {
			return Check{}, fmt.Errorf("checking input: %w", err)
		}
		for _, t := range res.Explanation.Top {
			c.Unusual = append(c.Unusual, t.Feature)
		}
	}
	return c, nil
}

// Input identifies what was checked, for the signal.
type Input struct {
	Model    string // the guarded model's name
	Hash     string // its artifact hash
	Time     time.Time
	EventIDs []string
	Entities []signal.Entity
}

// Explain names the features behind a flagged check (those out of range,
// else the ones the isolation forest credits most) and describes them in
// words: "log_len=7.6 (training range 0.69–5.2); …".
func (g *Guard) Explain(c Check) (features []string, text string) {
	parts := make([]string, 0, 5)
	for _, o := range c.Out {
		if len(features) == 5 {
			break
		}
		features = append(features, o.Feature)
		parts = append(parts, fmt.Sprintf("%s=%.4g (training range %.4g–%.4g)", o.Feature, o.Value, o.Lo, o.Hi))
	}
	if len(parts) > 0 {
		text = "outside its training support: " + strings.Join(parts, "; ")
		if len(c.Out) > len(parts) {
			text += fmt.Sprintf("; %d more features out of range", len(c.Out)-len(parts))
		}
		return features, text
	}
	features = append(features, c.Unusual...)
	return features, fmt.Sprintf("unlike its training inputs though every value is in range (isolation score %.3f, neighbour distance %.3g), most unusual in %s",
		c.Depth, c.Distance, strings.Join(c.Unusual, ", "))
}

// Signal turns a flagged check into a model-input-anomaly signal that names
// the features out of range.
func (g *Guard) Signal(c Check, in Input) signal.Signal {
	names, text := g.Explain(c)
	expl := fmt.Sprintf("input to model %s is %s; the model's score is not trusted", in.Model, text)
	level := signal.LevelLow
	if c.ByRange && c.ByDepth {
		level = signal.LevelMedium
	}
	return signal.Signal{
		ID: signal.DeriveID(Detector, RuleID, append([]string{in.Model}, in.EventIDs...)...), Detector: Detector, Layer: signal.LayerML,
		RuleID: RuleID, RuleVersion: in.Hash, Title: "Model input outside the training support",
		Level: level, Score: math.Max(c.Depth, math.Min(1, c.RangeScore/math.Max(g.RangeThreshold, 1e-9)/2)),
		Entities: in.Entities, Time: in.Time, EventIDs: in.EventIDs, Explanation: expl,
		Details: map[string]any{
			"model": in.Model, "model_hash": in.Hash, "features_out_of_range": names,
			"range_score": c.RangeScore, "range_threshold": g.RangeThreshold,
			"isolation_score": c.Depth, "isolation_threshold": g.DepthThreshold,
			"out_of_range": c.Out,
		},
	}
}
