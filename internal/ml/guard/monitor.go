package guard

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// MonitorConfig shapes the stream checks. The defaults are documented
// conventions, not fitted to any test stream.
type MonitorConfig struct {
	// Window is the event-time width of a window (aligned to the Unix epoch,
	// so a replay cuts the same windows).
	Window time.Duration
	// MinInputs is the fewest inputs a window needs for its distribution to
	// be compared, and for a burst to be reported.
	MinInputs int
	// PSIBound is the population stability index above which a feature has
	// shifted (0.25 is the usual "significant shift"). A small window's
	// sampling noise raises it: see psiBound.
	PSIBound float64
	// History is how many recent non-empty windows form the rate band;
	// MinHistory how many are needed before the rate is judged.
	History, MinHistory int
	// RateFactor: a burst is a window count above RateFactor times the
	// median of recent windows and above the median plus six robust
	// standard deviations.
	RateFactor float64
}

// DefaultMonitorConfig: 5-minute windows; a distribution is compared from
// 200 inputs (20 expected per decile bin, where the chi-square view of a
// window's PSI noise holds); the rate band is the last 24 non-empty windows
// (2 hours of steady traffic), judged from 6.
func DefaultMonitorConfig() MonitorConfig {
	return MonitorConfig{Window: 5 * time.Minute, MinInputs: 200, PSIBound: 0.25, History: 24, MinHistory: 6, RateFactor: 5}
}

// noiseAlpha is the share of in-distribution windows whose sampling noise
// alone may cross some feature's PSI bound (split evenly over features).
const noiseAlpha = 1e-3

// Shift is one closed window's finding.
type Shift struct {
	// From and To bound the window [From, To); Last is its last input's time.
	From, To, Last time.Time
	Inputs         int
	// Shifted are features whose PSI is above their bound, worst first
	// (empty when the window had fewer than MinInputs).
	Shifted []FeaturePSI
	// Compared reports whether the distribution was compared.
	Compared bool
	// Median and Sigma describe the rate band of the recent windows
	// (Windows of them); Burst is the count above which a window bursts.
	Median, Sigma, Burst float64
	Windows              int
	RateAnomalous        bool
}

// Anomalous reports a shifted feature or an anomalous rate.
func (s *Shift) Anomalous() bool { return s != nil && (len(s.Shifted) > 0 || s.RateAnomalous) }

// FeaturePSI is one feature's population stability index in a window and,
// for the explanation, the bin whose share grew most: Range describes it
// ("> 4.1", "≤ 0", "(0.1, 0.2]"), Train and Now are its shares.
type FeaturePSI struct {
	Feature string  `json:"feature"`
	PSI     float64 `json:"psi"`
	Bound   float64 `json:"bound"`
	Range   string  `json:"range"`
	Train   float64 `json:"train_share"`
	Now     float64 `json:"window_share"`
}

// Monitor watches a stream of guarded inputs over event-time windows with
// bounded memory (bin counts per feature, History window counts). Not safe
// for concurrent use.
type Monitor struct {
	g      *Guard
	ref    *StreamRef
	cfg    MonitorConfig
	counts [][]int
	n      int
	start  time.Time // open window's start; zero before the first input
	last   time.Time
	recent []int // counts of recent non-empty windows, oldest first
}

// ErrNoStreamRef means a guard carries no reference for the monitor (its
// artifact was trained before the monitor existed).
var ErrNoStreamRef = errors.New("input guard has no shift-monitor reference")

// NewMonitor returns a monitor comparing windows with g.Stream.
func NewMonitor(g *Guard, cfg MonitorConfig) (*Monitor, error) {
	if cfg.Window <= 0 || cfg.MinInputs < 10 || cfg.PSIBound <= 0 || cfg.History < cfg.MinHistory || cfg.MinHistory < 3 || cfg.RateFactor <= 1 {
		return nil, fmt.Errorf("input monitor: invalid config %+v", cfg)
	}
	if g == nil || g.Stream == nil {
		return nil, ErrNoStreamRef
	}
	if err := g.Stream.validate(len(g.Features)); err != nil {
		return nil, err
	}
	m := &Monitor{g: g, ref: g.Stream, cfg: cfg, counts: make([][]int, len(g.Features))}
	for j := range m.counts {
		m.counts[j] = make([]int, len(m.ref.Bins[j])+1)
	}
	return m, nil
}

// StreamRef is the shift monitor's training reference: per-feature decile
// edges and bin shares of the training rows production traffic should
// resemble (for the payload model, the benign ones: a stream of ordinary
// requests compared with a mix that is 38% attacks would shift in every
// window).
type StreamRef struct {
	// Population says which training rows ("benign training rows").
	Population string      `json:"population"`
	Rows       int         `json:"rows"`
	Bins       [][]float64 `json:"bins"`
	Shares     [][]float64 `json:"shares"`
}

// FitStreamRef builds the reference from rows (one vector per input).
func FitStreamRef(population string, features []string, rows [][]float64) (*StreamRef, error) {
	if len(rows) < 100 {
		return nil, fmt.Errorf("fitting the input monitor's reference: %d %s are too few", len(rows), population)
	}
	r := &StreamRef{Population: population, Rows: len(rows), Bins: make([][]float64, len(features)), Shares: make([][]float64, len(features))}
	col := make([]float64, len(rows))
	for j := range features {
		for i, x := range rows {
			if len(x) != len(features) {
				return nil, fmt.Errorf("fitting the input monitor's reference: row %d has %d values, want %d: %w", i, len(x), len(features), ErrDim)
			}
			if math.IsNaN(x[j]) || math.IsInf(x[j], 0) {
				return nil, fmt.Errorf("fitting the input monitor's reference: row %d feature %s is %v", i, features[j], x[j])
			}
			col[i] = x[j]
		}
		sort.Float64s(col)
		r.Bins[j] = deciles(col)
		r.Shares[j] = shares(r.Bins[j], col)
	}
	return r, nil
}

// validate checks a decoded reference against the guard's features.
func (r *StreamRef) validate(d int) error {
	if len(r.Bins) != d || len(r.Shares) != d || r.Rows < 1 {
		return errors.New("input monitor reference does not match the features")
	}
	for j := range r.Bins {
		if len(r.Shares[j]) != len(r.Bins[j])+1 || !sort.Float64sAreSorted(r.Bins[j]) {
			return fmt.Errorf("input monitor reference: feature %d has %d bins and %d shares", j, len(r.Bins[j]), len(r.Shares[j]))
		}
	}
	return nil
}

// deciles are the distinct decile edges of a sorted column.
func deciles(col []float64) []float64 {
	var edges []float64
	for q := 1; q < 10; q++ {
		e := quantile(col, float64(q)/10)
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	return edges
}

// shares are the shares of col in each bin of edges.
func shares(edges, col []float64) []float64 {
	s := make([]float64, len(edges)+1)
	for _, v := range col {
		s[bin(edges, v)] += 1 / float64(len(col))
	}
	return s
}

func bin(edges []float64, v float64) int {
	return sort.Search(len(edges), func(i int) bool { return v <= edges[i] })
}

// Observe adds one input at event time t. When t is at or past the open
// window's end, that window is closed first and its finding returned (nil
// otherwise). An input up to one window older than the open window joins
// it (the window cannot reopen; the result depends only on the input
// order); one older than that closes it too, so a single far-future
// timestamp cannot hold the monitor in a window that never ends.
func (m *Monitor) Observe(x []float64, t time.Time) (*Shift, error) {
	if len(x) != len(m.g.Features) {
		return nil, fmt.Errorf("observing %d values for %d features: %w", len(x), len(m.g.Features), ErrDim)
	}
	for j, v := range x {
		if math.IsNaN(v) {
			return nil, fmt.Errorf("observing input: feature %s is NaN", m.g.Features[j])
		}
	}
	var s *Shift
	if m.n > 0 && (!t.Before(m.start.Add(m.cfg.Window)) || t.Before(m.start.Add(-m.cfg.Window))) {
		s = m.Close()
	}
	if m.n == 0 {
		m.start = t.Truncate(m.cfg.Window)
		m.last = t
	}
	for j, v := range x {
		m.counts[j][bin(m.ref.Bins[j], v)]++
	}
	if t.After(m.last) {
		m.last = t
	}
	m.n++
	return s, nil
}

// Close closes the open window (at the end of a replay) and returns its
// finding; nil when no input is pending.
func (m *Monitor) Close() *Shift {
	if m.n == 0 {
		return nil
	}
	s := &Shift{From: m.start, To: m.start.Add(m.cfg.Window), Last: m.last, Inputs: m.n}
	if m.n >= m.cfg.MinInputs {
		s.Compared = true
		for j := range m.counts {
			if f := m.psi(j); f.PSI > f.Bound {
				s.Shifted = append(s.Shifted, f)
			}
		}
		sort.SliceStable(s.Shifted, func(a, b int) bool { return s.Shifted[a].PSI > s.Shifted[b].PSI })
	}
	for j := range m.counts {
		clear(m.counts[j])
	}
	if len(m.recent) >= m.cfg.MinHistory {
		s.Windows = len(m.recent)
		s.Median, s.Sigma = medianMAD(m.recent)
		s.Burst = math.Max(m.cfg.RateFactor*s.Median, s.Median+6*s.Sigma)
		s.RateAnomalous = m.n >= m.cfg.MinInputs && float64(m.n) > s.Burst
	}
	m.recent = append(m.recent, m.n)
	if len(m.recent) > m.cfg.History {
		m.recent = append(m.recent[:0], m.recent[1:]...)
	}
	m.n = 0
	return s
}

// medianMAD returns the median of counts and a robust standard deviation:
// 1.4826 × the median absolute deviation, at least the Poisson √median and 1.
func medianMAD(counts []int) (med, sigma float64) {
	xs := make([]float64, len(counts))
	for i, c := range counts {
		xs[i] = float64(c)
	}
	sort.Float64s(xs)
	med = quantile(xs, 0.5)
	for i := range xs {
		xs[i] = math.Abs(xs[i] - med)
	}
	sort.Float64s(xs)
	return med, math.Max(1.4826*quantile(xs, 0.5), math.Max(math.Sqrt(med), 1))
}

// psiBound is max(PSIBound, q/n) where q is the 1-noiseAlpha/features
// quantile of a chi-square with bins-1 degrees of freedom (Wilson–Hilferty):
// for in-distribution inputs n·PSI is about chi-square distributed, so a
// small window's noise alone stays below the bound.
func (m *Monitor) psiBound(bins, n int) float64 {
	z := math.Sqrt2 * math.Erfinv(1-2*noiseAlpha/float64(len(m.counts)))
	k := float64(max(1, bins-1))
	c := 2 / (9 * k)
	q := k * math.Pow(1-c+z*math.Sqrt(c), 3)
	return math.Max(m.cfg.PSIBound, q/float64(n))
}

// psi compares the window's bin shares of feature j with the training's.
func (m *Monitor) psi(j int) FeaturePSI {
	const eps = 1e-4
	f := FeaturePSI{Feature: m.g.Features[j], Bound: m.psiBound(len(m.counts[j]), m.n)}
	// The bin described is the one that gained most (where the mass went).
	worst := -1.0
	for b, c := range m.counts[j] {
		now := float64(c) / float64(m.n)
		a := math.Max(now, eps)
		e := math.Max(m.ref.Shares[j][b], eps)
		term := (a - e) * math.Log(a/e)
		f.PSI += term
		if a > e && term > worst {
			worst, f.Range, f.Train, f.Now = term, binRange(m.ref.Bins[j], b), m.ref.Shares[j][b], now
		}
	}
	return f
}

// binRange describes bin b of edges: (edges[b-1], edges[b]].
func binRange(edges []float64, b int) string {
	switch {
	case len(edges) == 0:
		return "any"
	case b == 0:
		return fmt.Sprintf("≤ %.3g", edges[0])
	case b == len(edges):
		return fmt.Sprintf("> %.3g", edges[b-1])
	}
	return fmt.Sprintf("(%.3g, %.3g]", edges[b-1], edges[b])
}
