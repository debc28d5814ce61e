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
//     deviation (a rare category weighs as much as its rarity);
//   - rank distance (Config.RankDistance): the same with each feature as
//     its training mid-rank share, so a heavy tail or a rare category does
//     not drown the other features.
//
// The scored checks are calibrated on a held-back slice of the training
// rows. By default each gets the same tail level, chosen so that their
// union flags Config.Rate of those in-distribution rows; with
// Config.Combine the depth and distances are joined into one score
// (Fisher's −Σ log p, p a score's tail share among the slice's scores)
// with one threshold beside the range check. Nothing is tuned on
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
	// RankDistance adds the neighbour distance in rank space (every
	// feature as its training mid-rank share) to the checks.
	RankDistance bool
	// Combine joins the isolation depth and the distances into one test
	// (Fisher's method on their calibration tail shares) instead of one
	// threshold each: an input a little unusual on every view is flagged,
	// and no view's heavy in-distribution tail takes a share of the budget.
	Combine bool
}

// DefaultConfig flags about 1% of in-distribution inputs. A third of the
// training rows calibrate: the thresholds sit in the top 0.5% of scores,
// where a fifth of the rows left the NSL-KDD thresholds (and the false-flag
// rate) varying from seed to seed.
func DefaultConfig() Config {
	fc := iforest.DefaultConfig()
	return Config{LoQ: 0.001, HiQ: 0.999, Cap: 10, Rate: 0.01, Holdout: 1.0 / 3, Forest: fc, RefSize: 20000, K: 1, MaxRows: 5_000_000}
}

// RecordConfig is DefaultConfig with the rank-space distance and the
// combined test, for records that mix counts, rates and one-hot categories
// (network connections): there one view's heavy in-distribution tail (a
// rare service far from everything in standard-deviation units) took the
// budget from the others. Held-out NSL-KDD attack categories (`rampart
// eval --suite adversarial`, seeds 1–3): 0.531 flagged at 0.0095 false
// flags with DefaultConfig, 0.596 at 0.0088 with this (0.589 before format
// 2 read the reference rows' one-hot slots at their true ranks); a check
// costs about 2× more (BenchmarkKDDGuardCheck: ~13 against ~7 µs). Trained nsl-kdd
// models use it (modelreg). Text-shape and log-key guards keep
// DefaultConfig (on them this flagged slightly fewer held-out inputs).
func RecordConfig() Config {
	cfg := DefaultConfig()
	cfg.RankDistance, cfg.Combine = true, true
	return cfg
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

	// Knots[j] are distinct training values of feature j and KnotRank[j]
	// their mid-rank shares: the rank-space view of the rank distance
	// check. Nil in artifacts trained before it, which leaves that check
	// off; RankThreshold is its cut-off.
	Knots         [][]float64 `json:"knots,omitempty"`
	KnotRank      [][]float64 `json:"knot_rank,omitempty"`
	RankThreshold float64     `json:"rank_threshold,omitempty"`
	// Null[c] is a sorted sample of calibration scores of the combined
	// view c (depth, distance, rank distance when present): a score's tail
	// share among them is its p-value. CombThreshold bounds −Σ log p.
	// Nil unless the guard was fitted with Config.Combine; then Depth-,
	// Dist- and RankThreshold are unused (0).
	Null          [][]float64 `json:"null,omitempty"`
	CombThreshold float64     `json:"comb_threshold,omitempty"`
	// MinPThreshold bounds −log of the least p (Tippett's method): Fisher's
	// sum alone misses an input extreme on one view only.
	MinPThreshold float64 `json:"min_p_threshold,omitempty"`
	// Version is the format the guard was fitted in (FormatVersion; 0 for
	// guards from before it was recorded, read as format 1). Format 2
	// reads reference rows in rank space snapped to training values
	// (refRank).
	Version int `json:"version,omitempty"`

	// std and rank index Ref for the distance checks (rebuilt by index,
	// not stored); rank's rows hold their features in rankDims order.
	std, rank *nnIndex
	rankDims  []int
}

// FormatVersion is the guard format Fit writes.
const FormatVersion = 2

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
		Bins: make([][]float64, d), Shares: make([][]float64, d), Scale: make([]float64, d), K: cfg.K, Version: FormatVersion}
	if cfg.RankDistance {
		g.Knots, g.KnotRank = make([][]float64, d), make([][]float64, d)
	}
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
		if cfg.RankDistance {
			g.Knots[j], g.KnotRank[j] = fitKnots(col)
		}
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
	if cfg.Combine {
		g.fitCombined(cal, cfg.Rate)
		return g, nil
	}
	rs, ds, ks, rks := make([]float64, len(cal)), make([]float64, len(cal)), make([]float64, len(cal)), make([]float64, len(cal))
	unseen := make([]bool, len(cal))
	for i, r := range cal {
		rs[i], _ = g.rangeScore(r, nil)
		ds[i] = g.depth(r)
		ks[i] = g.knn(r)
		rks[i] = g.rankKNN(r)
		unseen[i] = g.unseen(r)
	}
	checks := []calCheck{{rs, &g.RangeThreshold}, {ks, &g.DistThreshold}}
	if g.rank != nil {
		checks = append(checks, calCheck{rks, &g.RankThreshold})
	}
	checks = append(checks, calCheck{ds, &g.DepthThreshold})
	g.calibrate(checks, unseen, cfg.Rate)
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

// calCheck is one scored check: its scores on the calibration rows and
// the threshold calibrate sets.
type calCheck struct {
	scores    []float64
	threshold *float64
}

// calibrate sets the checks' thresholds at one tail level alpha, the
// largest whose union with the unseen-value flags stays within the budget
// of rate on the calibration rows.
func (g *Guard) calibrate(checks []calCheck, unseen []bool, rate float64) {
	n := len(unseen)
	sorts := make([][]float64, len(checks))
	for c, ck := range checks {
		sorts[c] = sorted(ck.scores)
	}
	set := func(alpha float64) int {
		g.Alpha = alpha
		for c, ck := range checks {
			*ck.threshold = quantile(sorts[c], 1-alpha)
		}
		flagged := 0
		for i := 0; i < n; i++ {
			hit := unseen[i]
			for _, ck := range checks {
				hit = hit || ck.scores[i] > *ck.threshold
			}
			if hit {
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
	budget := max(0, int(math.Floor(rate*float64(n+1)))-len(checks))
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

// maxNull bounds the stored calibration sample of one combined view
// (beyond it, an even sample of quantiles).
const maxNull = 8192

// fitCombined calibrates the combined test on the calibration rows: their
// scores are each view's null sample, and each row's own p-values leave
// the row out, so the thresholds hold for inputs the guard never saw.
func (g *Guard) fitCombined(cal [][]float64, rate float64) {
	n := len(cal)
	vs := make([][]float64, n)
	for i, r := range cal {
		vs[i] = g.views(r)
	}
	nv := len(vs[0])
	cols := make([][]float64, nv)
	for c := range cols {
		cols[c] = make([]float64, n)
		for i := range vs {
			cols[c][i] = vs[i][c]
		}
		sort.Float64s(cols[c])
	}
	rs, cs, ms := make([]float64, n), make([]float64, n), make([]float64, n)
	unseen := make([]bool, n)
	for i, r := range cal {
		rs[i], _ = g.rangeScore(r, nil)
		unseen[i] = g.unseen(r)
		// Leave-one-out p: (rows at or above, itself included) / n is
		// (others at or above + 1) / ((n − 1) + 1).
		for c, s := range vs[i] {
			above := n - sort.SearchFloat64s(cols[c], s)
			l := -math.Log(float64(above) / float64(n))
			cs[i] += l
			ms[i] = math.Max(ms[i], l)
		}
	}
	g.Null = make([][]float64, nv)
	for c, col := range cols {
		if len(col) <= maxNull {
			g.Null[c] = col
			continue
		}
		g.Null[c] = make([]float64, maxNull)
		for i := range maxNull {
			g.Null[c][i] = quantile(col, float64(i)/float64(maxNull-1))
		}
	}
	g.calibrate([]calCheck{{rs, &g.RangeThreshold}, {cs, &g.CombThreshold}, {ms, &g.MinPThreshold}}, unseen, rate)
}

// views are the scores the combined test joins: isolation depth,
// neighbour distance and (with knots) rank-space distance.
func (g *Guard) views(x []float64) []float64 {
	v := []float64{g.depth(x), g.knn(x)}
	if len(g.Knots) > 0 {
		v = append(v, g.rankKNN(x))
	}
	return v
}

// fisher is −Σ log p over the views and tippett −log min p, p being the
// share of the view's null sample at or above the score (counting the
// score itself, so p > 0).
// Beyond the sample's maximum p keeps falling along an exponential tail
// fitted to the sample's top values: otherwise p would stop at 1/(n+1)
// and an input extreme on one view only could stay under the threshold.
func (g *Guard) fisher(scores []float64) (fisher, tippett float64) {
	for c, s := range scores {
		null := g.Null[c]
		m := len(null)
		above := m - sort.SearchFloat64s(null, s)
		l := -math.Log(float64(above+1) / float64(m+1))
		if above == 0 {
			l += tailExcess(null, s)
		}
		fisher += l
		tippett = math.Max(tippett, l)
	}
	return fisher, tippett
}

// tailExcess is −log of how much rarer than the sample's maximum s is,
// under an exponential tail fitted to the top share of the sorted sample
// (its mean excess over the value below them); 0 without a usable tail.
func tailExcess(null []float64, s float64) float64 {
	m := len(null)
	k := max(10, m/100)
	if m < k+1 {
		return 0
	}
	u := null[m-k-1]
	mean := 0.0
	for _, v := range null[m-k:] {
		mean += (v - u) / float64(k)
	}
	if !(mean > 0) {
		return 0
	}
	// P(S > s) ≈ k/m · exp(−(s−u)/mean), against 1/(m+1) at the maximum.
	return math.Max(0, (s-u)/mean-math.Log(float64(k)))
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
		sum += float64(depth) + leafPath(nodes[n].Size)
	}
	return math.Pow(2, -sum/float64(len(f.Trees))/avgPath(min(f.Cfg.SampleSize, f.Rows)))
}

// pathTable is avgPath of 0..256 (a leaf holds at most SampleSize rows,
// 256 by default): depth would take a logarithm per tree otherwise.
var pathTable = func() (t [257]float64) {
	for n := range t {
		t[n] = avgPath(n)
	}
	return t
}()

// leafPath is avgPath(n), from the table when n is in it.
func leafPath(n int) float64 {
	if n >= 0 && n < len(pathTable) {
		return pathTable[n]
	}
	return avgPath(n)
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

// rankRows are the reference rows in rank space (nil without knots), their
// features in the order rankDims: most varied first, so a distance
// abandoned at the search bound stops after fewer features.
func (g *Guard) rankRows() (rows []float64, dims []int) {
	d := len(g.Features)
	if d == 0 || len(g.Knots) != d || len(g.Ref) == 0 {
		return nil, nil
	}
	n := len(g.Ref) / d
	mean, ss := make([]float64, d), make([]float64, d)
	for off := 0; off < len(g.Ref); off += d {
		for j := range d {
			mean[j] += g.refRank(j, g.Ref[off+j]) / float64(n)
		}
	}
	for off := 0; off < len(g.Ref); off += d {
		for j := range d {
			e := g.refRank(j, g.Ref[off+j]) - mean[j]
			ss[j] += e * e
		}
	}
	dims = make([]int, d)
	for j := range dims {
		dims[j] = j
	}
	sort.SliceStable(dims, func(a, b int) bool { return ss[dims[a]] > ss[dims[b]] })
	rows = make([]float64, len(g.Ref))
	for off := 0; off < len(g.Ref); off += d {
		for i, j := range dims {
			rows[off+i] = g.refRank(j, g.Ref[off+j])
		}
	}
	return rows, dims
}

// refRank is the mid-rank share of feature j's value as a reference row
// stores it (in Scale units, rounded to 1e-4 of a unit). From format 2 the
// value snaps to the nearest training value (knot) within that rounding:
// read as is, a one-hot 1 rounded just above the greatest knot has share 1
// instead of its mid-rank (0.59 for a slot set in 82% of the rows), and
// every query near that row seemed 0.4 farther from it than it is.
func (g *Guard) refRank(j int, r float64) float64 {
	v := r * g.Scale[j]
	if g.Version >= 2 {
		ks := g.Knots[j]
		best, at := 0.6e-4*g.Scale[j], -1
		i := sort.SearchFloat64s(ks, v)
		for _, c := range [2]int{i - 1, i} {
			if c >= 0 && c < len(ks) && math.Abs(ks[c]-v) <= best {
				best, at = math.Abs(ks[c]-v), c
			}
		}
		if at >= 0 {
			return g.KnotRank[j][at]
		}
	}
	return g.rankOf(j, v)
}

// maxKnots bounds the stored points of one feature's rank curve.
const maxKnots = 256

// fitKnots stores, for a sorted column, up to maxKnots distinct values and
// the mid-rank share of each: (rows below + rows equal / 2) / rows.
func fitKnots(col []float64) (knots, ranks []float64) {
	n := len(col)
	add := func(v float64) {
		if len(knots) > 0 && knots[len(knots)-1] == v {
			return
		}
		lo := sort.SearchFloat64s(col, v)
		hi := sort.Search(n, func(i int) bool { return col[i] > v })
		knots = append(knots, v)
		ranks = append(ranks, (float64(lo)+float64(hi))/2/float64(n))
	}
	for i := range maxKnots {
		add(col[i*(n-1)/(maxKnots-1)])
	}
	return knots, ranks
}

// rankOf is v's mid-rank share among feature j's training values: exact at
// a knot, linear between knots, 0 below the least and 1 above the
// greatest. A 0/1 slot moves by 0.5 whatever its frequency, so a rare
// category weighs no more than a common one here.
func (g *Guard) rankOf(j int, v float64) float64 {
	ks, rs := g.Knots[j], g.KnotRank[j]
	i := sort.SearchFloat64s(ks, v)
	switch {
	case i == len(ks):
		return 1
	case ks[i] == v:
		return rs[i]
	case i == 0:
		return 0
	}
	f := (v - ks[i-1]) / (ks[i] - ks[i-1])
	return rs[i-1] + f*(rs[i]-rs[i-1])
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
	// RankDistance is that distance with features as training mid-rank
	// shares (0 for guards without knots).
	RankDistance float64
	// ByUnseen: a feature fixed in training has another value.
	ByUnseen   bool
	ByRange    bool
	ByDepth    bool
	ByDistance bool
	// ByRankDistance: the rank-space distance is over its threshold.
	ByRankDistance bool
	// Combined is −Σ log p of depth and distances (guards fitted with
	// Config.Combine, which set ByCombined instead of the three views').
	Combined   float64
	ByCombined bool
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

// combinedViews are the scores the combined test joins: depth and
// distance, and the rank distance for guards with rank curves.
// (an array and a count: a check allocates nothing).
func (g *Guard) combinedViews(c Check) (vs [3]float64, n int) {
	vs, n = [3]float64{c.Depth, c.Distance, c.RankDistance}, 2
	if len(g.Knots) > 0 {
		n = 3
	}
	return vs, n
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
	c.ByRange = c.RangeScore > g.RangeThreshold
	c.Depth = g.depth(x)
	c.Distance = g.knn(x)
	if len(g.Knots) > 0 {
		c.RankDistance = g.rankKNN(x)
	}
	if len(g.Null) > 0 {
		vs, n := g.combinedViews(c)
		var minP float64
		c.Combined, minP = g.fisher(vs[:n])
		c.ByCombined = c.Combined > g.CombThreshold || minP > g.MinPThreshold
	} else {
		c.ByDepth = c.Depth > g.DepthThreshold
		c.ByDistance = c.Distance > g.DistThreshold
		c.ByRankDistance = len(g.Knots) > 0 && c.RankDistance > g.RankThreshold
	}
	c.Flagged = c.ByUnseen || c.ByRange || c.ByDepth || c.ByDistance || c.ByRankDistance || c.ByCombined
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
	dist := fmt.Sprintf("neighbour distance %.3g", c.Distance)
	if len(g.Knots) > 0 {
		dist += fmt.Sprintf(", in rank space %.3g", c.RankDistance)
	}
	return features, fmt.Sprintf("unlike its training inputs though every value is in range (isolation score %.3f, %s), most unusual in %s",
		c.Depth, dist, strings.Join(c.Unusual, ", "))
}

// Signal turns a flagged check into a model-input-anomaly signal that names
// the features out of range.
func (g *Guard) Signal(c Check, in Input) signal.Signal {
	names, text := g.Explain(c)
	expl := fmt.Sprintf("input to model %s is %s; the model's score is not trusted", in.Model, text)
	level := signal.LevelLow
	if c.ByRange && (c.ByDepth || c.ByCombined) {
		level = signal.LevelMedium
	}
	s := signal.Signal{
		ID: signal.DeriveID(Detector, RuleID, append([]string{in.Model}, in.EventIDs...)...), Detector: Detector, Layer: signal.LayerML,
		RuleID: RuleID, RuleVersion: in.Hash, Title: "Model input outside the training support",
		Level: level, Score: math.Max(c.Depth, math.Min(1, c.RangeScore/math.Max(g.RangeThreshold, 1e-9)/2)),
		Entities: in.Entities, Time: in.Time, EventIDs: in.EventIDs, Explanation: expl,
		Details: map[string]any{
			"model": in.Model, "model_hash": in.Hash, "features_out_of_range": names,
			"range_score": c.RangeScore, "range_threshold": g.RangeThreshold,
			"isolation_score": c.Depth, "out_of_range": c.Out,
		},
	}
	if len(g.Knots) > 0 {
		s.Details["rank_distance"] = c.RankDistance
	}
	// A combined guard judges depth and distances together: the views have
	// no thresholds of their own, the combined and least-p tests do.
	if len(g.Null) > 0 {
		s.Details["combined_score"], s.Details["combined_threshold"] = c.Combined, g.CombThreshold
		// Tippett's least-p test can flag too (recomputed: signals are rare).
		vs, n := g.combinedViews(c)
		_, minP := g.fisher(vs[:n])
		s.Details["min_p_score"], s.Details["min_p_threshold"] = minP, g.MinPThreshold
		return s
	}
	s.Details["isolation_threshold"] = g.DepthThreshold
	if len(g.Knots) > 0 {
		s.Details["rank_distance_threshold"] = g.RankThreshold
	}
	return s
}
