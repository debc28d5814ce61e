// Package iforest is an isolation forest (Liu, Ting & Zhou, ICDM'08) on
// dense feature vectors: seedable (math/rand/v2 PCG, so one seed gives one
// forest), serialisable (exported fields, JSON), with a per-feature
// attribution of every score and a threshold derived from a target alert
// rate on the training data. A Forest is read-only after Fit and safe for
// concurrent Score calls; Score does no I/O.
package iforest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/rampart-ids/rampart/internal/ml"
)

// Config sets the forest's shape.
type Config struct {
	Trees      int
	SampleSize int // ψ: rows per tree
	Seed       uint64
	// TargetRate is the share of training rows that would alert; Fit sets
	// Forest.Threshold to the matching score quantile.
	TargetRate float64
	// MaxRows bounds the training set.
	MaxRows int
}

// DefaultConfig returns the usual settings (100 trees of 256 rows).
func DefaultConfig() Config {
	return Config{Trees: 100, SampleSize: 256, Seed: 1, TargetRate: 0.01, MaxRows: 10_000_000}
}

// Node is one tree node; a leaf has Feature -1.
type Node struct {
	Feature int     `json:"f"`
	Split   float64 `json:"s,omitempty"`
	Left    int32   `json:"l,omitempty"` // child indices in Tree.Nodes
	Right   int32   `json:"r,omitempty"`
	Size    int     `json:"n"` // training rows that reached the node
}

// Tree is one isolation tree, nodes in a flat slice (root first).
type Tree struct {
	Nodes []Node `json:"nodes"`
}

// Forest is a fitted isolation forest.
type Forest struct {
	Cfg      Config    `json:"config"`
	Features []string  `json:"features"`
	Trees    []Tree    `json:"trees"`
	Median   []float64 `json:"median"` // per-feature training median: the baseline in explanations
	// Lo and Hi are per-feature 0.1% and 99.9% training quantiles: the
	// support an input guard checks against.
	Lo        []float64 `json:"lo"`
	Hi        []float64 `json:"hi"`
	Threshold float64   `json:"threshold"`
	Rows      int       `json:"rows"`
}

// Fit grows a forest on rows (each of len(features)).
func Fit(cfg Config, features []string, rows [][]float64) (*Forest, error) {
	if cfg.Trees < 1 || cfg.SampleSize < 2 || cfg.TargetRate <= 0 || cfg.TargetRate >= 1 {
		return nil, fmt.Errorf("fitting isolation forest: invalid config %+v", cfg)
	}
	if len(rows) < 2 {
		return nil, errors.New("fitting isolation forest: fewer than 2 rows")
	}
	if cfg.MaxRows > 0 && len(rows) > cfg.MaxRows {
		return nil, fmt.Errorf("fitting isolation forest: %d rows exceed the limit of %d", len(rows), cfg.MaxRows)
	}
	d := len(features)
	for i, r := range rows {
		if len(r) != d {
			return nil, fmt.Errorf("fitting isolation forest: row %d has %d values, want %d", i, len(r), d)
		}
		for j, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("fitting isolation forest: row %d feature %s is %v", i, features[j], v)
			}
		}
	}
	f := &Forest{Cfg: cfg, Features: append([]string(nil), features...), Rows: len(rows)}
	f.Median, f.Lo, f.Hi = make([]float64, d), make([]float64, d), make([]float64, d)
	col := make([]float64, len(rows))
	for j := 0; j < d; j++ {
		for i, r := range rows {
			col[i] = r[j]
		}
		sort.Float64s(col)
		f.Median[j] = quantile(col, 0.5)
		f.Lo[j] = quantile(col, 0.001)
		f.Hi[j] = quantile(col, 0.999)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x1f0e57))
	psi := min(cfg.SampleSize, len(rows))
	limit := int(math.Ceil(math.Log2(float64(psi))))
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	for t := 0; t < cfg.Trees; t++ {
		// Sample ψ rows without replacement (partial Fisher–Yates).
		for i := 0; i < psi; i++ {
			j := i + rng.IntN(len(idx)-i)
			idx[i], idx[j] = idx[j], idx[i]
		}
		sample := append([]int(nil), idx[:psi]...)
		tr := Tree{}
		grow(&tr, rows, sample, 0, limit, rng)
		f.Trees = append(f.Trees, tr)
	}
	scores := make([]float64, len(rows))
	for i, r := range rows {
		scores[i] = f.raw(r)
	}
	sort.Float64s(scores)
	f.Threshold = quantile(scores, 1-cfg.TargetRate)
	return f, nil
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

// grow appends the subtree for rows[sample] and returns its index.
func grow(t *Tree, rows [][]float64, sample []int, depth, limit int, rng *rand.Rand) int32 {
	me := int32(len(t.Nodes))
	t.Nodes = append(t.Nodes, Node{Feature: -1, Size: len(sample)})
	if depth >= limit || len(sample) <= 1 {
		return me
	}
	d := len(rows[sample[0]])
	// Pick a feature that varies in the sample (try each at most once).
	order := rng.Perm(d)
	for _, fj := range order {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, i := range sample {
			v := rows[i][fj]
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if hi <= lo {
			continue
		}
		split := lo + rng.Float64()*(hi-lo)
		var left, right []int
		for _, i := range sample {
			if rows[i][fj] < split {
				left = append(left, i)
			} else {
				right = append(right, i)
			}
		}
		l := grow(t, rows, left, depth+1, limit, rng)
		r := grow(t, rows, right, depth+1, limit, rng)
		t.Nodes[me] = Node{Feature: fj, Split: split, Left: l, Right: r, Size: len(sample)}
		return me
	}
	return me
}

// c is the average path length of an unsuccessful BST search among n rows.
func c(n int) float64 {
	if n <= 1 {
		return 0
	}
	if n == 2 {
		return 1
	}
	h := math.Log(float64(n-1)) + 0.5772156649
	return 2*h - 2*float64(n-1)/float64(n)
}

// pathLen walks x down t. If credit is not nil, each split's feature is
// credited with how much of the node's sample the split cut away from x
// (log2 of parent size over child size): a split that leaves x nearly
// alone explains its isolation, one that barely narrows it does not.
func pathLen(t *Tree, x []float64, credit []float64) float64 {
	n := int32(0)
	depth := 0
	for {
		nd := t.Nodes[n]
		if nd.Feature < 0 {
			return float64(depth) + c(nd.Size)
		}
		if x[nd.Feature] < nd.Split {
			n = nd.Left
		} else {
			n = nd.Right
		}
		if credit != nil {
			child := max(t.Nodes[n].Size, 1)
			credit[nd.Feature] += math.Log2(float64(nd.Size) / float64(child))
		}
		depth++
	}
}

func (f *Forest) raw(x []float64) float64 {
	sum := 0.0
	for i := range f.Trees {
		sum += pathLen(&f.Trees[i], x, nil)
	}
	mean := sum / float64(len(f.Trees))
	return math.Pow(2, -mean/c(min(f.Cfg.SampleSize, f.Rows)))
}

// Result is one vector's score.
type Result struct {
	// Score is the isolation score in (0,1]: about 0.5 for ordinary rows,
	// near 1 for rows isolated quickly.
	Score     float64
	Anomalous bool // Score >= Threshold
	// OutOfSupport lists features whose value lies outside the training's
	// 0.1–99.9% range: the input guard's evidence.
	OutOfSupport []string
	Explanation  ml.Explanation
}

// ErrDim means a vector has the wrong number of features.
var ErrDim = errors.New("wrong number of features")

// Score scores one vector.
func (f *Forest) Score(x []float64) (Result, error) {
	if len(x) != len(f.Features) {
		return Result{}, fmt.Errorf("scoring %d values for %d features: %w", len(x), len(f.Features), ErrDim)
	}
	for j, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Result{}, fmt.Errorf("scoring: feature %s is %v", f.Features[j], v)
		}
	}
	credit := make([]float64, len(x))
	sum := 0.0
	for i := range f.Trees {
		sum += pathLen(&f.Trees[i], x, credit)
	}
	mean := sum / float64(len(f.Trees))
	r := Result{Score: math.Pow(2, -mean/c(min(f.Cfg.SampleSize, f.Rows)))}
	r.Anomalous = r.Score >= f.Threshold
	cs := make([]ml.Contribution, len(x))
	total := 0.0
	for _, v := range credit {
		total += v
	}
	for j := range x {
		w := 0.0
		if total > 0 {
			w = credit[j] / total
		}
		cs[j] = ml.Contribution{Feature: f.Features[j], Value: x[j], Baseline: f.Median[j], Weight: w}
		if x[j] < f.Lo[j] || x[j] > f.Hi[j] {
			r.OutOfSupport = append(r.OutOfSupport, f.Features[j])
		}
	}
	top := ml.TopK(cs, 3)
	r.Explanation = ml.Explanation{Model: "iforest", Score: r.Score, Top: top, Sentence: ml.Sentence("isolation forest", r.Score, top)}
	return r, nil
}
