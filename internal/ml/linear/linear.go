// Package linear trains and scores L2-regularised logistic regression on
// sparse feature vectors, optimised with L-BFGS (gonum/optimize). A trained
// Model is read-only and safe for concurrent Score calls; Score does no I/O.
package linear

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"

	"github.com/rampart-ids/rampart/internal/ml"
)

// Sparse is a sparse vector: Idx[i] holds Val[i]. Indices need not be sorted
// but must be unique and in [0, dim).
type Sparse struct {
	Idx []int32
	Val []float64
}

// Model is a logistic regression model: P(y=1|x) = σ(W·x + B).
type Model struct {
	W []float64
	B float64
}

// Options control training.
type Options struct {
	// L2 is the regularisation strength λ in mean log-loss + λ/2·|W|².
	L2 float64
	// MaxIter bounds L-BFGS iterations.
	MaxIter int
	// PosWeight weighs positive examples (1 for none), for imbalanced classes.
	PosWeight float64
}

// DefaultOptions are sensible defaults.
func DefaultOptions() Options { return Options{L2: 1e-4, MaxIter: 200, PosWeight: 1} }

// Train fits a model of dimension dim on xs with labels ys (0 or 1).
func Train(xs []Sparse, ys []float64, dim int, opt Options) (*Model, error) {
	if len(xs) == 0 || len(xs) != len(ys) {
		return nil, fmt.Errorf("training logistic regression: %d vectors, %d labels", len(xs), len(ys))
	}
	if dim <= 0 || opt.L2 < 0 || opt.MaxIter <= 0 || opt.PosWeight <= 0 {
		return nil, errors.New("training logistic regression: invalid dimension or options")
	}
	for i, x := range xs {
		if len(x.Idx) != len(x.Val) {
			return nil, fmt.Errorf("training logistic regression: vector %d has %d indices and %d values", i, len(x.Idx), len(x.Val))
		}
		for _, j := range x.Idx {
			if j < 0 || int(j) >= dim {
				return nil, fmt.Errorf("training logistic regression: vector %d index %d outside [0,%d)", i, j, dim)
			}
		}
		if ys[i] != 0 && ys[i] != 1 {
			return nil, fmt.Errorf("training logistic regression: label %v of vector %d is not 0 or 1", ys[i], i)
		}
	}
	n := float64(len(xs))
	// Parameters: W (dim) then B. The optimiser asks for the loss and the
	// gradient at the same point; one pass computes both and is cached.
	var (
		lastP    []float64
		lastLoss float64
		lastGrad = make([]float64, dim+1)
	)
	eval := func(p []float64) {
		if lastP != nil && slicesEqual(lastP, p) {
			return
		}
		lastP = append(lastP[:0], p...)
		w, b := p[:dim], p[dim]
		for i := range lastGrad {
			lastGrad[i] = 0
		}
		loss := 0.0
		for i, x := range xs {
			z := b + dot(w, x)
			wt := 1.0
			if ys[i] == 1 {
				wt = opt.PosWeight
			}
			// log(1+e^z) - y·z, computed stably.
			loss += wt * (softplus(z) - ys[i]*z)
			d := wt * (sigmoid(z) - ys[i]) / n
			for k, j := range x.Idx {
				lastGrad[j] += d * x.Val[k]
			}
			lastGrad[dim] += d
		}
		reg := 0.0
		for j, v := range w {
			reg += v * v
			lastGrad[j] += opt.L2 * v
		}
		lastLoss = loss/n + opt.L2/2*reg
	}
	f := func(p []float64) float64 {
		eval(p)
		return lastLoss
	}
	g := func(grad, p []float64) {
		eval(p)
		copy(grad, lastGrad)
	}
	p := optimize.Problem{Func: f, Grad: g}
	settings := &optimize.Settings{MajorIterations: opt.MaxIter, GradientThreshold: 1e-6}
	res, err := optimize.Minimize(p, make([]float64, dim+1), settings, &optimize.LBFGS{})
	if err != nil && res == nil {
		return nil, fmt.Errorf("optimising logistic regression: %w", err)
	}
	// Hitting the iteration limit still gives a usable model.
	x := res.X
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errors.New("optimising logistic regression: diverged")
		}
	}
	return &Model{W: append([]float64(nil), x[:dim]...), B: x[dim]}, nil
}

// Score returns P(y=1|x). Indices outside the model are ignored (a feature
// added after training carries no weight).
func (m *Model) Score(x Sparse) float64 { return sigmoid(m.B + dot(m.W, x)) }

// Margin returns W·x + B.
func (m *Model) Margin(x Sparse) float64 { return m.B + dot(m.W, x) }

func dot(w []float64, x Sparse) float64 {
	s := 0.0
	for k, j := range x.Idx {
		if int(j) < len(w) && j >= 0 {
			s += w[j] * x.Val[k]
		}
	}
	return s
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

func softplus(z float64) float64 {
	if z > 30 {
		return z
	}
	if z < -30 {
		return math.Exp(z)
	}
	return math.Log1p(math.Exp(z))
}

// Explain returns x's per-feature contributions W[j]·x[j] (names[j] names
// feature j; baseline, if not nil, gives each feature's training mean) and
// one sentence, keeping the k that pushed hardest toward the decision.
func (m *Model) Explain(x Sparse, names []string, baseline []float64, k int) ml.Explanation {
	p := m.Score(x)
	sign := 1.0
	if p < 0.5 {
		sign = -1
	}
	var cs []ml.Contribution
	for i, j := range x.Idx {
		if int(j) >= len(m.W) || int(j) >= len(names) {
			continue
		}
		w := m.W[j] * x.Val[i]
		if w*sign <= 0 {
			continue
		}
		c := ml.Contribution{Feature: names[j], Value: x.Val[i], Weight: w}
		if int(j) < len(baseline) {
			c.Baseline = baseline[j]
		}
		cs = append(cs, c)
	}
	top := ml.TopK(cs, k)
	return ml.Explanation{Model: "logistic-regression", Score: p, Top: top, Sentence: ml.Sentence("logistic regression", p, top)}
}

func slicesEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
