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
// 100 inputs; the rate band is the last 24 non-empty windows (2 hours of
// steady traffic), judged from 6.
func DefaultMonitorConfig() MonitorConfig {
	return MonitorConfig{Window: 5 * time.Minute, MinInputs: 100, PSIBound: 0.25, History: 24, MinHistory: 6, RateFactor: 5}
}

// noiseZ is the standard normal quantile of 1-1e-4: the share of windows
// of in-distribution inputs whose sampling noise alone may cross a
// feature's PSI bound.
const noiseZ = 3.719

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
	cfg    MonitorConfig
	counts [][]int
	n      int
	start  time.Time // open window's start; zero before the first input
	last   time.Time
	recent []int // counts of recent non-empty windows, oldest first
}

// NewMonitor returns a monitor for g, whose Bins and Shares are the
// training reference.
func NewMonitor(g *Guard, cfg MonitorConfig) (*Monitor, error) {
	if cfg.Window <= 0 || cfg.MinInputs < 10 || cfg.PSIBound <= 0 || cfg.History < cfg.MinHistory || cfg.MinHistory < 3 || cfg.RateFactor <= 1 {
		return nil, fmt.Errorf("input monitor: invalid config %+v", cfg)
	}
	if g == nil || len(g.Bins) != len(g.Features) || len(g.Shares) != len(g.Features) {
		return nil, errors.New("input monitor: guard has no training bins")
	}
	m := &Monitor{g: g, cfg: cfg, counts: make([][]int, len(g.Features))}
	for j := range m.counts {
		m.counts[j] = make([]int, len(g.Bins[j])+1)
	}
	return m, nil
}

func bin(edges []float64, v float64) int {
	return sort.Search(len(edges), func(i int) bool { return v <= edges[i] })
}

// Observe adds one input at event time t. When t is at or past the open
// window's end, that window is closed first and its finding returned (nil
// otherwise). An input older than the open window joins it: the window
// cannot reopen, and the result depends only on the input order.
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
	if m.n > 0 && !t.Before(m.start.Add(m.cfg.Window)) {
		s = m.Close()
	}
	if m.n == 0 {
		m.start = t.Truncate(m.cfg.Window)
		m.last = t
	}
	for j, v := range x {
		m.counts[j][bin(m.g.Bins[j], v)]++
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

// psiBound is max(PSIBound, q/n) where q is the 1-1e-4 quantile of a
// chi-square with bins-1 degrees of freedom (Wilson–Hilferty): for
// in-distribution inputs n·PSI is about chi-square distributed, so a small
// window's noise alone stays below the bound.
func (m *Monitor) psiBound(bins, n int) float64 {
	k := float64(max(1, bins-1))
	c := 2 / (9 * k)
	q := k * math.Pow(1-c+noiseZ*math.Sqrt(c), 3)
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
		e := math.Max(m.g.Shares[j][b], eps)
		term := (a - e) * math.Log(a/e)
		f.PSI += term
		if a > e && term > worst {
			worst, f.Range, f.Train, f.Now = term, binRange(m.g.Bins[j], b), m.g.Shares[j][b], now
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
