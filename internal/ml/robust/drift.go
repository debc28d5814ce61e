package robust

import (
	"fmt"
	"math"
	"sort"
)

// DriftConfig bounds how far a new training window may differ from the
// last before the alarm sounds.
type DriftConfig struct {
	// PSIBound is the per-feature population stability index bound
	// (0.25 is the usual "significant shift").
	PSIBound float64
	// MaxShifted is how many features may exceed PSIBound before alarm.
	MaxShifted int
}

// DefaultDriftConfig alarms on any feature past PSI 0.25.
func DefaultDriftConfig() DriftConfig { return DriftConfig{PSIBound: 0.25} }

// FeatureDrift is one feature's change between windows.
type FeatureDrift struct {
	Feature string  `json:"feature"`
	PSI     float64 `json:"psi"`
	// MedianShift is the change of median in units of the last window's
	// MAD (0 when both are constant and equal).
	MedianShift float64 `json:"median_shift"`
}

// DriftReport compares two windows.
type DriftReport struct {
	Alarm bool
	// Features lists every feature, worst PSI first.
	Features []FeatureDrift
	MaxPSI   float64
	Shifted  int
}

// Reason is a one-line account, for logs and refusals.
func (d DriftReport) Reason() string {
	if len(d.Features) == 0 {
		return "no features"
	}
	f := d.Features[0]
	return fmt.Sprintf("%d feature(s) shifted beyond the bound; worst %s PSI %.3f, median moved %.1f MADs", d.Shifted, f.Feature, f.PSI, f.MedianShift)
}

// Drift compares a new window's rows with the last window's, feature by
// feature, over the last window's decile bins.
func Drift(cfg DriftConfig, features []string, last, next [][]float64) (DriftReport, error) {
	var rep DriftReport
	if cfg.PSIBound <= 0 || cfg.MaxShifted < 0 {
		return rep, fmt.Errorf("drift: invalid config %+v", cfg)
	}
	if len(last) == 0 || len(next) == 0 {
		return rep, fmt.Errorf("drift: empty window (last %d rows, next %d): %w", len(last), len(next), ErrEmpty)
	}
	for _, w := range [][][]float64{last, next} {
		for i, r := range w {
			if len(r) != len(features) {
				return rep, fmt.Errorf("drift: row %d has %d values, want %d", i, len(r), len(features))
			}
		}
	}
	a, b := make([]float64, len(last)), make([]float64, len(next))
	for j, name := range features {
		for i, r := range last {
			a[i] = r[j]
		}
		for i, r := range next {
			b[i] = r[j]
		}
		sort.Float64s(a)
		sort.Float64s(b)
		var edges []float64
		for q := 1; q < 10; q++ {
			e := a[int(float64(q)/10*float64(len(a)-1))]
			if len(edges) == 0 || e > edges[len(edges)-1] {
				edges = append(edges, e)
			}
		}
		psi := psi(shares(a, edges), shares(b, edges))
		ma, _ := Median(a)
		mb, _ := Median(b)
		mad, _ := MAD(a)
		shift := 0.0
		if d := math.Abs(mb - ma); d > 0 {
			shift = d / math.Max(mad, 1e-9*math.Max(1, math.Abs(ma)))
		}
		rep.Features = append(rep.Features, FeatureDrift{Feature: name, PSI: psi, MedianShift: shift})
		if psi > cfg.PSIBound {
			rep.Shifted++
		}
		rep.MaxPSI = math.Max(rep.MaxPSI, psi)
	}
	sort.SliceStable(rep.Features, func(i, j int) bool { return rep.Features[i].PSI > rep.Features[j].PSI })
	rep.Alarm = rep.Shifted > cfg.MaxShifted
	return rep, nil
}

func shares(sorted, edges []float64) []float64 {
	out := make([]float64, len(edges)+1)
	for _, v := range sorted {
		out[sort.Search(len(edges), func(i int) bool { return v <= edges[i] })]++
	}
	for i := range out {
		out[i] /= float64(len(sorted))
	}
	return out
}

func psi(exp, act []float64) float64 {
	const eps = 1e-4
	p := 0.0
	for i := range exp {
		e, a := math.Max(exp[i], eps), math.Max(act[i], eps)
		p += (a - e) * math.Log(a/e)
	}
	return p
}
