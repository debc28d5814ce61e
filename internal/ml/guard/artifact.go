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
