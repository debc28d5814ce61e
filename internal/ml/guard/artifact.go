package guard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/rampart-ids/rampart/internal/ml/model"
)

// ErrNoGuard means a model artifact carries no input guard (it was trained
// before the guard was part of training).
var ErrNoGuard = errors.New("model artifact has no input guard")

// Encode returns the guard's JSON, for model.Body.InputGuard.
func (g *Guard) Encode() (json.RawMessage, error) {
	b, err := json.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("encoding input guard: %w", err)
	}
	return b, nil
}

// FromArtifact decodes and validates the input guard stored in a verified
// artifact. An artifact without one returns ErrNoGuard.
func FromArtifact(a *model.Artifact) (*Guard, error) {
	if len(a.Body.InputGuard) == 0 {
		return nil, fmt.Errorf("model %s@%s: %w", a.Body.Name, a.Body.Version, ErrNoGuard)
	}
	var g Guard
	dec := json.NewDecoder(bytes.NewReader(a.Body.InputGuard))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("model %s@%s: decoding input guard: %w", a.Body.Name, a.Body.Version, err)
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("model %s@%s: %w", a.Body.Name, a.Body.Version, err)
	}
	g.index()
	return &g, nil
}

// Validate checks that a decoded guard is consistent, so Check can never
// index out of range or divide by zero on a guard read from a file.
func (g *Guard) Validate() error {
	d := len(g.Features)
	if d == 0 {
		return errors.New("input guard: no features")
	}
	if g.Version < 0 || g.Version > FormatVersion {
		return fmt.Errorf("input guard: format %d, this build reads formats up to %d", g.Version, FormatVersion)
	}
	for name, n := range map[string]int{"lo": len(g.Lo), "hi": len(g.Hi), "spread": len(g.Spread), "median": len(g.Median), "scale": len(g.Scale), "fixed": len(g.Fixed)} {
		if n != d {
			return fmt.Errorf("input guard: %s has %d values for %d features", name, n, d)
		}
	}
	for j := 0; j < d; j++ {
		if !(g.Spread[j] > 0) || !(g.Scale[j] > 0) || math.IsInf(g.Spread[j], 0) || math.IsInf(g.Scale[j], 0) {
			return fmt.Errorf("input guard: feature %s has a non-positive scale", g.Features[j])
		}
	}
	if len(g.Ref)%d != 0 || g.K < 1 || g.K > max(1, len(g.Ref)/d) {
		return fmt.Errorf("input guard: %d reference values, k=%d for %d features", len(g.Ref), g.K, d)
	}
	if g.Forest == nil || len(g.Forest.Features) != d {
		return errors.New("input guard: isolation forest missing or of another width")
	}
	if len(g.Forest.Trees) == 0 || len(g.Forest.Median) != d {
		return errors.New("input guard: isolation forest has no trees or no medians")
	}
	// Children point forward, so scoring always ends at a leaf.
	for ti, t := range g.Forest.Trees {
		if len(t.Nodes) == 0 {
			return fmt.Errorf("input guard: isolation tree %d is empty", ti)
		}
		for i, n := range t.Nodes {
			if n.Feature < 0 {
				continue
			}
			if n.Feature >= d || int(n.Left) <= i || int(n.Right) <= i || int(n.Left) >= len(t.Nodes) || int(n.Right) >= len(t.Nodes) {
				return fmt.Errorf("input guard: isolation tree %d node %d is malformed", ti, i)
			}
		}
	}
	if err := g.validateKnots(); err != nil {
		return err
	}
	if err := g.validateNull(); err != nil {
		return err
	}
	if len(g.Bins) != d || len(g.Shares) != d {
		return errors.New("input guard: shift-monitor bins do not match the features")
	}
	for j := range g.Bins {
		if len(g.Shares[j]) != len(g.Bins[j])+1 {
			return fmt.Errorf("input guard: feature %s has %d bins and %d shares", g.Features[j], len(g.Bins[j]), len(g.Shares[j]))
		}
	}
	if g.Stream != nil {
		if err := g.Stream.validate(d); err != nil {
			return fmt.Errorf("input guard: %w", err)
		}
	}
	return nil
}

// validateKnots checks the rank curves: none (the check is off) or one per
// feature, each non-empty, strictly ascending, with shares in [0, 1].
func (g *Guard) validateKnots() error {
	if len(g.Knots) == 0 && len(g.KnotRank) == 0 {
		return nil
	}
	d := len(g.Features)
	if len(g.Knots) != d || len(g.KnotRank) != d {
		return fmt.Errorf("input guard: %d rank curves and %d share lists for %d features", len(g.Knots), len(g.KnotRank), d)
	}
	for j, ks := range g.Knots {
		rs := g.KnotRank[j]
		if len(ks) == 0 || len(rs) != len(ks) {
			return fmt.Errorf("input guard: feature %s has %d knots and %d shares", g.Features[j], len(ks), len(rs))
		}
		for i, v := range ks {
			if math.IsNaN(v) || math.IsInf(v, 0) || (i > 0 && v <= ks[i-1]) || !(rs[i] >= 0 && rs[i] <= 1) {
				return fmt.Errorf("input guard: feature %s rank curve is malformed at knot %d", g.Features[j], i)
			}
		}
	}
	return nil
}

// validateNull checks the combined test's null samples: none, or one per
// view (depth, distance, and rank distance with knots), each non-empty and
// sorted.
func (g *Guard) validateNull() error {
	if len(g.Null) == 0 {
		return nil
	}
	want := 2
	if len(g.Knots) > 0 {
		want = 3
	}
	if len(g.Null) != want {
		return fmt.Errorf("input guard: %d null samples for %d combined views", len(g.Null), want)
	}
	for c, null := range g.Null {
		if len(null) == 0 {
			return fmt.Errorf("input guard: null sample %d is empty", c)
		}
		for i, v := range null {
			if math.IsNaN(v) || (i > 0 && v < null[i-1]) {
				return fmt.Errorf("input guard: null sample %d is not sorted at %d", c, i)
			}
		}
	}
	return nil
}
