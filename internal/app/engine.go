// Package app wires Rampart's components from configuration: it is the only
// package that knows the concrete detectors, stores, inputs and outputs.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/retention/purpose"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/rules"

	// Detector kinds and record formats register themselves.
	_ "github.com/rampart-ids/rampart/internal/detect/anomaly"
	_ "github.com/rampart-ids/rampart/internal/detect/flowscan"
	_ "github.com/rampart-ids/rampart/internal/detect/ids"
	_ "github.com/rampart-ids/rampart/internal/detect/ioc"
	_ "github.com/rampart-ids/rampart/internal/detect/logtemplate"
	_ "github.com/rampart-ids/rampart/internal/detect/mlmodel"
	_ "github.com/rampart-ids/rampart/internal/detect/threshold"
	_ "github.com/rampart-ids/rampart/internal/format/all"
	_ "github.com/rampart-ids/rampart/internal/sigma"
)

// RuleSet selects the rule layer. Empty path lists mean the bundled rules.
type RuleSet struct {
	Sigma, Threshold, IOC []string
	// Sigma selection (see config.Rules).
	MinLevel   string
	Status     []string
	Tags       []string
	Disabled   []string
	Exceptions string
	// IDS configures the pass-through of Suricata alerts and Zeek notices
	// (detect/ids Config keys); nil takes its defaults.
	IDS map[string]any
	// NoML leaves out the ML layer (baselines, rarity, log templates, payload model).
	NoML bool
	// Exclusions, when set, also keeps events of entities with a malicious
	// verdict out of the ML baselines (see LearningExclusions).
	Exclusions *LearningExclusions
	// Suppressions, when set, also keeps suppressed activity out of the ML
	// baselines (counted under ExcludeSuppressed; needs Exclusions).
	Suppressions *Suppressions
	// Purposes, when declared, keeps events whose purpose tags do not allow
	// training (untagged ones included) out of every learning detector.
	Purposes purpose.Rules
	// The learning detectors' ExcludeFromLearning: baselines and rarity
	// (every reason), the log-template miner (purpose only).
	excludeFromLearning, excludeFromTemplates func(*event.Event) bool
	// Models is the model registry folder; the payload detector runs when it
	// holds a trained "payload" model (`rampart model train --kind payload`).
	Models string
}

// BuildEngine loads the rule-layer detectors (Sigma with correlation,
// thresholds, IOC) and then the ML layer (per-entity baselines, rarity).
// cleanup removes extracted bundled rules.
func BuildEngine(ctx context.Context, rs RuleSet) (*detect.Engine, func(), error) {
	// ML detectors learn only from events no earlier layer flagged: an
	// attacker's alerted activity must not become part of the baseline.
	var eng *detect.Engine
	gate := &learnGate{x: rs.Exclusions, purposes: rs.Purposes.Declared(), flagged: func() bool { return eng != nil && eng.Flagged() }}
	if rs.Suppressions != nil {
		gate.supp, gate.now = rs.Suppressions, rs.Suppressions.now
		gate.raised = func() []signal.Signal {
			if eng == nil {
				return nil
			}
			return eng.Raised()
		}
	}
	rs.excludeFromLearning = gate.exclude
	if gate.purposes {
		rs.excludeFromTemplates = gate.excludeByPurpose
	}
	ds, cleanup, err := BuildDetectors(ctx, rs)
	if err != nil {
		return nil, func() {}, err
	}
	eng = detect.NewEngine(ds...)
	return eng, cleanup, nil
}

// BuildDetectors builds the rule-layer detectors.
func BuildDetectors(ctx context.Context, rs RuleSet) ([]detect.Detector, func(), error) {
	var bundled string
	cleanup := func() {
		if bundled != "" {
			os.RemoveAll(bundled)
		}
	}
	paths := func(given []string, sub string) ([]string, error) {
		if len(given) > 0 {
			return given, nil
		}
		if bundled == "" {
			dir, err := os.MkdirTemp("", "rampart-rules-")
			if err != nil {
				return nil, fmt.Errorf("extracting bundled rules: %w", err)
			}
			bundled = dir
			if err := rules.Extract(dir); err != nil {
				return nil, err
			}
		}
		return []string{bundled + "/" + sub}, nil
	}
	sigmaCfg := map[string]any{}
	for k, v := range map[string]any{"min_level": rs.MinLevel, "exceptions": rs.Exceptions} {
		if v != "" {
			sigmaCfg[k] = v
		}
	}
	for k, v := range map[string][]string{"statuses": rs.Status, "tags": rs.Tags, "disabled": rs.Disabled} {
		if len(v) > 0 {
			sigmaCfg[k] = v
		}
	}
	var out []detect.Detector
	for _, k := range []struct {
		kind  string
		given []string
		sub   string
	}{{"sigma", rs.Sigma, "sigma"}, {"threshold", rs.Threshold, "threshold"}, {"ioc", rs.IOC, "ioc"}} {
		spec, ok := detect.Lookup(k.kind)
		if !ok {
			cleanup()
			return nil, func() {}, fmt.Errorf("detector %s is not built into this binary", k.kind)
		}
		p, err := paths(k.given, k.sub)
		if err != nil {
			cleanup()
			return nil, func() {}, err
		}
		var cfg map[string]any
		if k.kind == "sigma" {
			cfg = sigmaCfg
		}
		d, err := spec.New(detect.Options{RulePaths: p, Config: cfg})
		if err != nil {
			cleanup()
			return nil, func() {}, fmt.Errorf("loading %s rules: %w", k.kind, err)
		}
		out = append(out, d)
	}
	if spec, ok := detect.Lookup("ids"); ok { // IDS alerts pass through as rule-layer signals
		d, err := spec.New(detect.Options{Config: rs.IDS})
		if err != nil {
			cleanup()
			return nil, func() {}, fmt.Errorf("building ids detector: %w", err)
		}
		out = append(out, d)
	}
	if !rs.NoML {
		kinds := []string{"anomaly", "rarity", "logtemplate", "flowscan"}
		if rs.Models != "" {
			if _, err := os.Stat(filepath.Join(rs.Models, "payload")); err == nil {
				kinds = append(kinds, "payload")
			}
		}
		for _, kind := range kinds {
			spec, ok := detect.Lookup(kind)
			if !ok {
				continue // built without the ML layer
			}
			var cfg map[string]any
			if kind == "payload" {
				cfg = map[string]any{"models": rs.Models}
			}
			exclude := rs.excludeFromLearning
			if kind == "logtemplate" {
				exclude = rs.excludeFromTemplates
			}
			d, err := spec.New(detect.Options{Config: cfg, ExcludeFromLearning: exclude})
			if err != nil {
				cleanup()
				return nil, func() {}, fmt.Errorf("building %s detector: %w", kind, err)
			}
			out = append(out, d)
		}
	}
	return out, cleanup, nil
}

// Reload reloads every detector that supports it; all are tried, errors joined.
func Reload(ctx context.Context, eng *detect.Engine) error {
	var errs []error
	for _, d := range eng.Detectors() {
		if r, ok := d.(detect.Reloader); ok {
			if err := r.Reload(ctx); err != nil {
				errs = append(errs, fmt.Errorf("reloading %s: %w", d.Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}
