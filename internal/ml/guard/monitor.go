package guard

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// MonitorConfig shapes the stream checks.
type MonitorConfig struct {
	// Window is the number of inputs compared against training.
	Window int
	// PSIBound is the population stability index above which a feature
	// has shifted (0.25 is the usual "significant shift").
	PSIBound float64
	// Rate is the expected inputs per second (from the training window);
	// 0 disables the rate check. RateFactor bounds the ratio either way.
	Rate, RateFactor float64
}

// DefaultMonitorConfig compares windows of 2,000 inputs.
func DefaultMonitorConfig() MonitorConfig {
	return MonitorConfig{Window: 2000, PSIBound: 0.25, RateFactor: 5}
}

// Shift is one window's finding.
type Shift struct {
	From, To time.Time
	// Shifted are features with PSI above the bound, worst first.
	Shifted []FeaturePSI
	// Rate is the window's inputs per second; RateAnomalous is set when it
	// is beyond RateFactor of the expected rate.
	Rate          float64
	RateAnomalous bool
}

// FeaturePSI is one feature's population stability index.
type FeaturePSI struct {
	Feature string  `json:"feature"`
	PSI     float64 `json:"psi"`
}

// Monitor watches a stream of guarded inputs. Not safe for concurrent use.
type Monitor struct {
	g      *Guard
	cfg    MonitorConfig
	counts [][]int
	n      int
	first  time.Time
	last   time.Time
}

// NewMonitor returns a monitor for g.
func NewMonitor(g *Guard, cfg MonitorConfig) (*Monitor, error) {
	if cfg.Window < 50 || cfg.PSIBound <= 0 || (cfg.Rate > 0 && cfg.RateFactor <= 1) {
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

// Observe adds one input at event time t. When a window completes it
// returns its finding (nil otherwise) and starts the next window.
func (m *Monitor) Observe(x []float64, t time.Time) (*Shift, error) {
	if len(x) != len(m.g.Features) {
		return nil, fmt.Errorf("observing %d values for %d features: %w", len(x), len(m.g.Features), ErrDim)
	}
	for j, v := range x {
		if math.IsNaN(v) {
			return nil, fmt.Errorf("observing input: feature %s is NaN", m.g.Features[j])
		}
		m.counts[j][bin(m.g.Bins[j], v)]++
	}
	if m.n == 0 || t.Before(m.first) {
		m.first = t
	}
	if t.After(m.last) || m.n == 0 {
		m.last = t
	}
	m.n++
	if m.n < m.cfg.Window {
		return nil, nil
	}
	s := &Shift{From: m.first, To: m.last}
	for j := range m.counts {
		if p := m.psi(j); p > m.cfg.PSIBound {
			s.Shifted = append(s.Shifted, FeaturePSI{m.g.Features[j], p})
		}
		clear(m.counts[j])
	}
	sort.SliceStable(s.Shifted, func(a, b int) bool { return s.Shifted[a].PSI > s.Shifted[b].PSI })
	if span := m.last.Sub(m.first).Seconds(); span > 0 {
		s.Rate = float64(m.n) / span
	}
	if m.cfg.Rate > 0 {
		r := s.Rate
		s.RateAnomalous = r == 0 || r > m.cfg.Rate*m.cfg.RateFactor || r < m.cfg.Rate/m.cfg.RateFactor
	}
	m.n = 0
	return s, nil
}

// psi compares the window's bin shares with the training's.
func (m *Monitor) psi(j int) float64 {
	const eps = 1e-4
	p := 0.0
	for b, c := range m.counts[j] {
		a := math.Max(float64(c)/float64(m.n), eps)
		e := math.Max(m.g.Shares[j][b], eps)
		p += (a - e) * math.Log(a/e)
	}
	return p
}
