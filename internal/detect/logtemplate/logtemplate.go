// Package logtemplate mines log templates (ml/drain) from events whose
// format carries only a free-text message — other syslog (event.dataset
// system.syslog), records of format "syslog", and auth lines the auth
// parser did not understand (no event.action) — and reports
// new-template signals (a kind of line never seen before) and
// rare-template signals (a kind of line seen only a few times, a tiny share
// of all lines).
//
// A fresh node knows no templates, so nothing is reported until a warm-up
// number of lines has been mined (lines of a loaded template model count).
// Template state is bounded (MaxTemplates); once full, lines that match no
// template are reported as Detect errors rather than dropped silently.
// Detect uses no clock and no I/O: a replay of the same events in the same
// order gives the same signals. Snapshot and Restore carry the state over a
// restart (hashed, in the model artifact format), in the shape of
// anomaly.Snapshotter.
package logtemplate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/ml"
	"github.com/rampart-ids/rampart/internal/ml/drain"
	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/modelreg"
	"github.com/rampart-ids/rampart/internal/signal"
)

// Kind is the detector kind.
const Kind = "logtemplate"

// Rule ids of the two signals.
const (
	RuleNew  = "new-template"
	RuleRare = "rare-template"
)

// Defaults.
const (
	DefaultWarmUp       = 1000
	DefaultRareCount    = 3
	DefaultRareShare    = 0.001
	DefaultMaxTemplates = 20000
	maxParamsShown      = 8
	maxParamBytes       = 64
)

func init() {
	detect.Register(detect.Spec{
		Kind:    Kind,
		Layer:   signal.LayerML,
		Summary: "log template mining on message-only logs: new-template and rare-template signals after a warm-up",
		New: func(o detect.Options) (detect.Detector, error) {
			opts, err := options(o.Config)
			if err != nil {
				return nil, err
			}
			opts.ExcludeFromLearning = o.ExcludeFromLearning
			return New(opts)
		},
	})
}

// Options configure New.
type Options struct {
	// Artifact optionally seeds the miner with a trained template model
	// (kind "drain", from `rampart model train --kind loghub-templates`);
	// its lines count toward the warm-up.
	Artifact *model.Artifact
	// WarmUp is the number of lines mined before any signal (default 1000).
	WarmUp int
	// RareCount and RareShare: a known template is rare while it has been
	// seen at most RareCount times and under RareShare of all lines.
	RareCount int
	RareShare float64
	// MaxTemplates bounds template state (default 20000).
	MaxTemplates int
	// Datasets and Formats select events (defaults system.syslog, syslog).
	Datasets, Formats []string
	// SkipUnparsedAuth turns off mining of system.auth events that the auth
	// parser left without an event.action.
	SkipUnparsedAuth bool
	// ExcludeFromLearning marks lines that are scored against the known
	// templates but never mined (drain.Miner.Lookup): they create no
	// template and count toward no line total.
	ExcludeFromLearning func(*event.Event) bool
}

func options(cfg map[string]any) (Options, error) {
	var o Options
	dir, name, version := "", "", ""
	for k, v := range cfg {
		var err error
		switch k {
		case "models":
			dir, err = detect.ConfigString(k, v)
		case "model":
			name, err = detect.ConfigString(k, v)
		case "version":
			version, err = detect.ConfigString(k, v)
		case "warm_up":
			o.WarmUp, err = detect.ConfigInt(k, v)
		case "rare_count":
			o.RareCount, err = detect.ConfigInt(k, v)
		case "rare_share":
			o.RareShare, err = detect.ConfigFloat(k, v)
		case "max_templates":
			o.MaxTemplates, err = detect.ConfigInt(k, v)
		case "datasets":
			o.Datasets, err = detect.ConfigList(k, v)
		case "formats":
			o.Formats, err = detect.ConfigList(k, v)
		case "skip_unparsed_auth":
			b, ok := v.(bool)
			if !ok {
				err = fmt.Errorf("config %s: want true or false, got %v", k, v)
			}
			o.SkipUnparsedAuth = b
		default:
			err = fmt.Errorf("unknown config key %q (want models, model, version, warm_up, rare_count, rare_share, max_templates, datasets, formats, skip_unparsed_auth)", k)
		}
		if err != nil {
			return o, fmt.Errorf("logtemplate: %w", err)
		}
	}
	if name != "" {
		if dir == "" {
			return o, errors.New("logtemplate: config model needs models (the model registry folder)")
		}
		reg, err := modelreg.Open(dir)
		if err != nil {
			return o, err
		}
		if o.Artifact, err = reg.Load(name, version); err != nil {
			return o, fmt.Errorf("logtemplate: %w", err)
		}
	}
	return o, nil
}

// Detector is the log template detector. It is stateful and, as every
// detector, called from one goroutine.
type Detector struct {
	mu      sync.Mutex // Detect against Snapshot/Restore from another goroutine
	o       Options
	miner   *drain.Miner
	lines   int // lines mined, the model's included
	version string
	// Few names each (one by default): a linear scan beats hashing.
	datasets []string
	formats  []string
}

// New builds the detector.
func New(o Options) (*Detector, error) {
	if o.WarmUp <= 0 {
		o.WarmUp = DefaultWarmUp
	}
	if o.RareCount <= 0 {
		o.RareCount = DefaultRareCount
	}
	if o.RareShare <= 0 {
		o.RareShare = DefaultRareShare
	}
	if o.RareShare >= 1 {
		return nil, fmt.Errorf("logtemplate: rare_share %v must be below 1", o.RareShare)
	}
	if o.MaxTemplates <= 0 {
		o.MaxTemplates = DefaultMaxTemplates
	}
	if len(o.Datasets) == 0 {
		o.Datasets = []string{"system.syslog"}
	}
	if len(o.Formats) == 0 {
		o.Formats = []string{"syslog"}
	}
	d := &Detector{o: o, version: "online", datasets: set(o.Datasets), formats: set(o.Formats)}
	if a := o.Artifact; a != nil {
		if a.Body.Kind != "drain" {
			return nil, fmt.Errorf("logtemplate: model %s@%s is of kind %q, want drain", a.Body.Name, a.Body.Version, a.Body.Kind)
		}
		var p modelreg.TemplateParams
		if err := a.Params(&p); err != nil {
			return nil, fmt.Errorf("logtemplate: %w", err)
		}
		p.Miner.Config.MaxClusters = max(o.MaxTemplates, len(p.Miner.Clusters))
		m, err := drain.Restore(p.Miner)
		if err != nil {
			return nil, fmt.Errorf("logtemplate: model %s@%s: %w", a.Body.Name, a.Body.Version, err)
		}
		if p.Lines < 0 {
			return nil, fmt.Errorf("logtemplate: model %s@%s: negative line count", a.Body.Name, a.Body.Version)
		}
		d.miner, d.lines, d.version = m, p.Lines, a.Body.Name+"@"+a.Body.Version
	} else {
		cfg := drain.DefaultConfig()
		cfg.MaxClusters = o.MaxTemplates
		m, err := drain.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("logtemplate: %w", err)
		}
		d.miner = m
	}
	return d, nil
}

func set(xs []string) []string {
	s := slices.Clone(xs)
	slices.Sort(s)
	return slices.Compact(s)
}

// Name implements detect.Detector.
func (d *Detector) Name() string { return Kind }

// Lines is the number of lines mined so far (a loaded model's included).
func (d *Detector) Lines() int { return d.lines }

// Templates is the number of templates held.
func (d *Detector) Templates() int { return len(d.miner.Clusters()) }

// Applies reports whether ev is mined: a message-only record.
func (d *Detector) Applies(ev *event.Event) bool {
	// The format needs no field lookup: test it first.
	if slices.Contains(d.formats, ev.Format) {
		return true
	}
	ds, _ := ev.GetString("event.dataset")
	if slices.Contains(d.datasets, ds) {
		return true
	}
	if !d.o.SkipUnparsedAuth && ds == "system.auth" {
		_, parsed := ev.Get("event.action")
		return !parsed
	}
	return false
}

// Detect implements detect.Detector.
func (d *Detector) Detect(_ context.Context, ev *event.Event, emit detect.Emit) error {
	if !d.Applies(ev) {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	msg, _ := ev.GetString("message")
	if strings.TrimSpace(msg) == "" {
		return nil
	}
	truncated := false
	if max := drain.DefaultConfig().MaxLineBytes; len(msg) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg, truncated = msg[:cut], true
	}
	if d.o.ExcludeFromLearning != nil && d.o.ExcludeFromLearning(ev) {
		m, err := d.miner.Lookup(msg)
		if err != nil {
			return fmt.Errorf("logtemplate: event %s: %w", ev.ID, err)
		}
		// Scored as if it were the next line, without counting it.
		d.lines++
		defer func() { d.lines-- }()
		if d.lines <= d.o.WarmUp {
			return nil
		}
		d.emit(ev, m, truncated, emit)
		return nil
	}
	m, err := d.miner.Add(msg)
	if err != nil {
		return fmt.Errorf("logtemplate: event %s: %w (%d templates held)", ev.ID, err, d.Templates())
	}
	d.lines++
	if d.lines <= d.o.WarmUp {
		return nil
	}
	d.emit(ev, m, truncated, emit)
	return nil
}

// emit reports a new or rare template.
func (d *Detector) emit(ev *event.Event, m drain.Match, truncated bool, emit detect.Emit) {
	switch {
	case m.New:
		emit(d.signal(ev, m, RuleNew, truncated))
	case m.Count <= d.o.RareCount && float64(m.Count)/float64(d.lines) < d.o.RareShare:
		emit(d.signal(ev, m, RuleRare, truncated))
	}
}

// score is the template's rarity: 1 - ln(1+count)/ln(1+lines), near 1 for
// a first occurrence among many lines, falling as the template recurs.
func score(count, lines int) float64 {
	s := 1 - math.Log1p(float64(count))/math.Log1p(float64(lines))
	return math.Max(0, math.Min(1, s))
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func (d *Detector) signal(ev *event.Event, m drain.Match, rule string, truncated bool) signal.Signal {
	who := ""
	var ents []signal.Entity
	if p, ok := ev.GetString("process.name"); ok && p != "" {
		who = p
		ents = append(ents, signal.Entity{Kind: "process", Value: p})
	}
	if h, ok := ev.GetString("host.name"); ok && h != "" {
		if who != "" {
			who += " on "
		}
		who += h
		ents = append(ents, signal.Entity{Kind: "host", Value: h})
	}
	if who == "" {
		who = "log source " + ev.Source
	}
	templates := d.Templates()
	mean := float64(d.lines) / float64(max(templates, 1))
	s := score(m.Count, d.lines)
	ex := ml.Explanation{Model: Kind + ":" + d.version, Score: s,
		Top: []ml.Contribution{{Feature: "template_count", Value: float64(m.Count), Baseline: mean, Weight: s}}}
	tpl := cut(m.Template, 300)
	title, level := "New log template", signal.LevelLow
	if rule == RuleNew {
		known := templates
		if m.ClusterID >= 0 { // mined: the new template is among those held
			known--
		}
		ex.Sentence = fmt.Sprintf("%s: new kind of log line %q, first seen after %d lines (%d templates known)", who, tpl, d.lines-1, known)
	} else {
		title, level = "Rare log template", signal.LevelInformational
		ex.Sentence = fmt.Sprintf("%s: rare kind of log line %q, seen %d times in %d lines (a template averages %.0f)", who, tpl, m.Count, d.lines, mean)
	}
	params := m.Params
	if len(params) > maxParamsShown {
		params = params[:maxParamsShown]
	}
	shownParams := make([]string, len(params))
	for i, p := range params {
		shownParams[i] = cut(p, maxParamBytes)
	}
	det := ex.Fields()
	det["template"], det["template_id"], det["params"] = tpl, m.TemplateID, shownParams
	det["count"], det["lines"], det["templates"], det["truncated"] = m.Count, d.lines, templates, truncated
	return signal.Signal{
		ID: signal.DeriveID(Kind, rule+":"+m.TemplateID, ev.ID), Detector: Kind, Layer: signal.LayerML,
		RuleID: rule, RuleVersion: d.version, Title: title, Level: level, Score: s,
		Entities: ents, Time: ev.Time, EventIDs: []string{ev.ID},
		Explanation: ex.Sentence, Details: det,
	}
}

// State snapshots use the model artifact format, so they are hashed and a
// damaged one is refused.
const (
	stateKind    = "drain-state"
	stateName    = "logtemplate-state"
	maxStateSize = 256 << 20
)

// Snapshot writes the detector's templates and line count (hashed), so its
// state survives a restart. Detect waits while it runs.
func (d *Detector) Snapshot(w io.Writer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	a, err := model.New(model.Body{Kind: stateKind, Name: stateName, Version: d.version,
		Lineage: model.Lineage{ClassCounts: map[string]int{"lines": d.lines}}},
		modelreg.TemplateParams{Miner: d.miner.Snapshot(), Lines: d.lines})
	if err != nil {
		return fmt.Errorf("logtemplate snapshot: %w", err)
	}
	if err := a.Write(w); err != nil {
		return fmt.Errorf("logtemplate snapshot: %w", err)
	}
	return nil
}

// Restore replaces the state with a snapshot. A snapshot that does not
// verify (hash, format, limits) is refused and the state is unchanged.
func (d *Detector) Restore(r io.Reader) error {
	a, err := model.Load(io.LimitReader(r, maxStateSize))
	if err != nil {
		return fmt.Errorf("logtemplate restore: %w", err)
	}
	if a.Body.Kind != stateKind || a.Body.Name != stateName {
		return fmt.Errorf("logtemplate restore: not a logtemplate state (%s %s)", a.Body.Kind, a.Body.Name)
	}
	var p modelreg.TemplateParams
	if err := a.Params(&p); err != nil {
		return fmt.Errorf("logtemplate restore: %w", err)
	}
	if p.Lines < 0 {
		return errors.New("logtemplate restore: negative line count")
	}
	p.Miner.Config.MaxClusters = max(d.o.MaxTemplates, len(p.Miner.Clusters))
	m, err := drain.Restore(p.Miner)
	if err != nil {
		return fmt.Errorf("logtemplate restore: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.miner, d.lines, d.version = m, p.Lines, a.Body.Version
	return nil
}
