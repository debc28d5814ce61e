// Package mlmodel holds detectors backed by trained, hashed model artifacts
// from the model registry (internal/modelreg). The payload detector scores
// the parameter values of web requests with the active web payload
// classifier (ml/payload) and explains every score with the tokens that
// drove it. Its input guard (issue 4) refuses to let an input the model
// has not seen the like of score silently as benign: every value is checked
// against the input guard stored in the signed artifact (ml/guard: the
// shape of the training inputs — length, character classes, punctuation)
// and against the share of its features that never occurred in training;
// a value outside that support raises a model-input-anomaly signal naming
// the features out of range instead of a silent benign score.
//
// A shift monitor (ml/guard.Monitor) watches the stream of scored values
// over event-time windows: a window whose feature distribution moved away
// from the training reference stored in the guard, or whose value count
// bursts beyond the band of recent windows, raises one model-input-anomaly
// signal for the window.
//
// Models are loaded and verified when the detector is built; Detect does no
// I/O, and its only state is the monitor's bounded window counts, driven by
// event time, so replays are deterministic.
package mlmodel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/ml"
	"github.com/rampart-ids/rampart/internal/ml/guard"
	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/ml/payload"
	"github.com/rampart-ids/rampart/internal/modelreg"
	"github.com/rampart-ids/rampart/internal/signal"
)

// KindPayload is the payload detector's kind.
const KindPayload = "payload"

// RuleInputAnomaly is the RuleID of input-guard signals.
const RuleInputAnomaly = "model-input-anomaly"

// Limits on what one event may cost.
const (
	// DefaultMaxValues bounds the parameter values scored per event; the
	// rest are counted in the signal's details (values_skipped).
	DefaultMaxValues = 32
	// maxShown bounds a value quoted in a signal.
	maxShown = 200
)

func init() {
	detect.Register(detect.Spec{
		Kind:    KindPayload,
		Layer:   signal.LayerML,
		Summary: "web parameter values scored by the active payload classifier (SQLi, XSS, traversal, command injection), with an input guard",
		New: func(o detect.Options) (detect.Detector, error) {
			po, err := payloadOptions(o.Config)
			if err != nil {
				return nil, err
			}
			return NewPayload(po)
		},
	})
}

// PayloadOptions configure NewPayload.
type PayloadOptions struct {
	// Artifact is a verified payload-lr artifact (modelreg.Registry.Load).
	Artifact *model.Artifact
	// MaxValues bounds the values scored per event (default DefaultMaxValues).
	MaxValues int
	// GuardShare overrides the artifact's "unseen_share" threshold (0 keeps it).
	GuardShare float64
	// MinGuardRunes: values shorter than this are never guarded (too few
	// features to judge support). Default 4.
	MinGuardRunes int
	// Monitor shapes the shift monitor (zero: guard.DefaultMonitorConfig);
	// MonitorOff turns it off.
	Monitor    guard.MonitorConfig
	MonitorOff bool
}

// LoadPayloadOptions loads the payload model name@version ("" = active)
// from the registry in dir.
func LoadPayloadOptions(dir, name, version string) (PayloadOptions, error) {
	reg, err := modelreg.Open(dir)
	if err != nil {
		return PayloadOptions{}, err
	}
	a, err := reg.Load(name, version)
	if err != nil {
		return PayloadOptions{}, fmt.Errorf("payload detector: %w", err)
	}
	return PayloadOptions{Artifact: a}, nil
}

// payloadOptions reads the detector's config section: models (folder,
// required), model (name, default "payload"), version (default active),
// max_values, guard_share, monitor_window (the shift monitor's window,
// default 5m).
func payloadOptions(cfg map[string]any) (PayloadOptions, error) {
	dir, name, version := "", "payload", ""
	var o PayloadOptions
	for k, v := range cfg {
		var err error
		switch k {
		case "models":
			dir, err = detect.ConfigString(k, v)
		case "model":
			name, err = detect.ConfigString(k, v)
		case "version":
			version, err = detect.ConfigString(k, v)
		case "max_values":
			o.MaxValues, err = detect.ConfigInt(k, v)
		case "guard_share":
			o.GuardShare, err = detect.ConfigFloat(k, v)
		case "monitor_window":
			if o.Monitor.Window, err = detect.ConfigDuration(k, v); err == nil && o.Monitor.Window < time.Minute {
				err = fmt.Errorf("%s: %v is under a minute", k, o.Monitor.Window)
			}
		default:
			err = fmt.Errorf("unknown config key %q (want models, model, version, max_values, guard_share, monitor_window)", k)
		}
		if err != nil {
			return o, fmt.Errorf("payload: %w", err)
		}
	}
	if dir == "" {
		return o, errors.New("payload: config key models (the model registry folder) is required; train a model with `rampart model train --kind payload`")
	}
	lo, err := LoadPayloadOptions(dir, name, version)
	if err != nil {
		return o, err
	}
	lo.MaxValues, lo.GuardShare, lo.Monitor = o.MaxValues, o.GuardShare, o.Monitor
	return lo, nil
}

// Payload is the payload detector.
type Payload struct {
	clf       *payload.Classifier
	fast      *fastScorer
	name      string
	version   string
	hash      string
	guard     float64
	maxValues int
	minRunes  int
	// input is the artifact's input guard; nil for artifacts trained before
	// it existed (inputGuard then says so in every signal).
	input      *guard.Guard
	inputGuard string

	// mu guards the shift monitor (nil without an input guard) and the
	// sample of the open window's event ids.
	mu     sync.Mutex
	mon    *guard.Monitor
	winIDs []string
}

// maxWindowIDs bounds the evidence event ids of a window signal.
const maxWindowIDs = 10

// Values of the input_guard signal detail.
const (
	inputGuardOn     = "shape and unseen-feature share"
	inputGuardAbsent = "unseen-feature share only: the artifact has no input guard (trained before it existed); retrain to guard input shape"
)

// NewPayload builds the detector from a verified artifact.
func NewPayload(o PayloadOptions) (*Payload, error) {
	a := o.Artifact
	if a == nil {
		return nil, errors.New("payload detector: no model artifact")
	}
	if a.Body.Kind != "payload-lr" {
		return nil, fmt.Errorf("payload detector: model %s@%s is of kind %q, want payload-lr", a.Body.Name, a.Body.Version, a.Body.Kind)
	}
	var c payload.Classifier
	if err := a.Params(&c); err != nil {
		return nil, fmt.Errorf("payload detector: %w", err)
	}
	if c.Model == nil || len(c.Model.W) != len(c.Names) || len(c.DocFreq) != len(c.Names) || len(c.Vocab) != len(c.Names) {
		return nil, fmt.Errorf("payload detector: model %s@%s: inconsistent parameters", a.Body.Name, a.Body.Version)
	}
	for f, j := range c.Vocab {
		if j < 0 || int(j) >= len(c.Names) || c.Names[j] != f {
			return nil, fmt.Errorf("payload detector: model %s@%s: vocabulary entry %q does not match its feature", a.Body.Name, a.Body.Version, f)
		}
	}
	p := &Payload{clf: &c, fast: newFastScorer(&c), name: a.Body.Name, version: a.Body.Version, hash: a.Hash, maxValues: o.MaxValues, minRunes: o.MinGuardRunes}
	p.guard = a.Body.Thresholds["unseen_share"]
	if o.GuardShare > 0 {
		p.guard = o.GuardShare
	}
	if p.guard <= 0 || p.guard >= 1 {
		return nil, fmt.Errorf("payload detector: model %s@%s has no usable unseen_share threshold (%v); retrain it or set guard_share", a.Body.Name, a.Body.Version, p.guard)
	}
	if p.maxValues <= 0 {
		p.maxValues = DefaultMaxValues
	}
	if p.minRunes <= 0 {
		p.minRunes = 4
	}
	g, err := guard.FromArtifact(a)
	switch {
	case errors.Is(err, guard.ErrNoGuard):
		p.inputGuard = inputGuardAbsent
		slog.Warn("payload detector: model has no input guard; only the unseen-feature share guards its inputs and the input shift monitor is off; retrain to enable both", "model", a.Body.Name, "version", a.Body.Version)
	case err != nil:
		return nil, fmt.Errorf("payload detector: %w", err)
	case len(g.Features) != len(guard.TextFeatureNames()):
		return nil, fmt.Errorf("payload detector: model %s@%s: input guard has %d features, want %d", a.Body.Name, a.Body.Version, len(g.Features), len(guard.TextFeatureNames()))
	default:
		p.input, p.inputGuard = g, inputGuardOn
		if !o.MonitorOff {
			// A config with only a window (the config key) keeps the other defaults.
			mc := o.Monitor
			if mc.MinInputs == 0 {
				w := mc.Window
				mc = guard.DefaultMonitorConfig()
				if w > 0 {
					mc.Window = w
				}
			}
			switch p.mon, err = guard.NewMonitor(g, mc); {
			case errors.Is(err, guard.ErrNoStreamRef):
				slog.Warn("payload detector: model has no input-shift reference (trained before the monitor existed); the input shift monitor is off, retrain to enable it", "model", a.Body.Name, "version", a.Body.Version)
			case err != nil:
				return nil, fmt.Errorf("payload detector: model %s@%s: %w", a.Body.Name, a.Body.Version, err)
			}
		}
	}
	return p, nil
}

// Name implements detect.Detector.
func (p *Payload) Name() string { return KindPayload }

// value is one parameter value to score.
type value struct {
	field, param, raw string
}

// values extracts the parameter values of an event: the query (url.query,
// else the part of url.original after '?') and the request body (form
// pairs, else the whole body). Values are kept URL-encoded: the classifier
// decodes them itself, as it did in training.
func values(ev *event.Event) []value {
	var out []value
	q, _ := ev.GetString("url.query")
	qfield := "url.query"
	if q == "" {
		if orig, ok := ev.GetString("url.original"); ok {
			if _, after, found := strings.Cut(orig, "?"); found {
				q, qfield = after, "url.original"
			}
		}
	}
	out = appendPairs(out, qfield, q)
	if body, ok := ev.GetString("http.request.body.content"); ok && body != "" {
		t := strings.TrimSpace(body)
		if strings.Contains(t, "=") && !strings.HasPrefix(t, "{") && !strings.HasPrefix(t, "[") && !strings.HasPrefix(t, "<") {
			out = appendPairs(out, "http.request.body.content", t)
		} else {
			out = append(out, value{field: "http.request.body.content", raw: body})
		}
	}
	return out
}

func appendPairs(out []value, field, q string) []value {
	q = strings.TrimPrefix(q, "?")
	if q == "" {
		return out
	}
	// Only '&' separates pairs: ';' inside a value is a classic command
	// injection and must stay in the value.
	for _, pair := range strings.Split(q, "&") {
		k, v, found := strings.Cut(pair, "=")
		if !found {
			k, v = "", pair
		}
		if v == "" {
			continue
		}
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		out = append(out, value{field: field, param: k, raw: v})
	}
	return out
}

// Detect implements detect.Detector.
func (p *Payload) Detect(_ context.Context, ev *event.Event, emit detect.Emit) error {
	vals := values(ev)
	if len(vals) == 0 {
		return nil
	}
	// Over the limit, score the longest values (attack payloads are long;
	// padding a request with many short benign parameters does not push
	// one out). A request whose values were not all scored is reported by
	// the input guard when nothing else is.
	skipped := 0
	if len(vals) > p.maxValues {
		skipped = len(vals) - p.maxValues
		sort.SliceStable(vals, func(i, j int) bool { return len(vals[i].raw) > len(vals[j].raw) })
		vals = vals[:p.maxValues]
	}
	// Every value is checked by the input guard, then scored by the fast
	// scorer; only what is reported is explained.
	var (
		bestP    float64
		bestV    value
		haveBest bool
		ood      oodValue
		haveOOD  bool
	)
	monitored := p.mon != nil && !ev.Time.IsZero()
	for _, v := range vals {
		var chk *guard.Check
		guarded := utf8.RuneCountInString(v.raw) >= p.minRunes
		var x []float64
		if monitored || (guarded && p.input != nil) {
			x = modelreg.PayloadGuardVector(v.raw)
		}
		if monitored {
			if err := p.observe(ev, x, emit); err != nil {
				return err
			}
		}
		if guarded && p.input != nil {
			c, err := p.input.Check(x)
			if err != nil {
				return fmt.Errorf("payload detector: input guard: %w", err)
			}
			if c.Flagged {
				chk = &c
			}
		}
		prob, unseen := p.fast.score(v.raw)
		if !haveBest || prob > bestP {
			bestP, bestV, haveBest = prob, v, true
		}
		if prob >= p.clf.Cfg.Threshold || !guarded {
			continue
		}
		o := oodValue{v: v, unseen: unseen, byUnseen: unseen > p.guard, check: chk}
		if (o.byUnseen || chk != nil) && (!haveOOD || o.rank() > ood.rank()) {
			ood, haveOOD = o, true
		}
	}
	if bestP >= p.clf.Cfg.Threshold {
		if r := p.fast.result(bestV.raw); r.Attack {
			emit(p.signal(ev, bestV, r, len(vals), skipped))
			return nil
		}
	}
	switch {
	case haveOOD:
		emit(p.guardSignal(ev, ood, p.fast.result(ood.v.raw), len(vals), skipped))
	case skipped > 0:
		// Nothing out of support among the scored values, but the model
		// did not see the whole input: its benign verdict is not trusted.
		last := vals[len(vals)-1]
		emit(p.guardSignal(ev, oodValue{v: last}, p.fast.result(last.raw), len(vals), skipped))
	}
	return nil
}

// oodValue is a value the model scored benign that is outside its
// training support: by unseen-feature share, by the input guard, or both.
type oodValue struct {
	v        value
	unseen   float64
	byUnseen bool
	check    *guard.Check
}

// rank orders candidates: flagged by both checks first, then by the
// unseen share.
func (o oodValue) rank() float64 {
	r := o.unseen
	if o.byUnseen {
		r++
	}
	if o.check != nil {
		r++
	}
	return r
}

func shown(s string) string {
	if len(s) <= maxShown {
		return s
	}
	cut := maxShown
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

func where(v value) string {
	if v.param != "" {
		return fmt.Sprintf("%s parameter %q", v.field, v.param)
	}
	return v.field
}

func entities(ev *event.Event) []signal.Entity {
	var out []signal.Entity
	for _, f := range []struct{ field, kind string }{{"source.ip", "ip"}, {"user.name", "user"}, {"url.domain", "domain"}, {"host.name", "host"}} {
		if s, ok := ev.GetString(f.field); ok && s != "" && s != "-" {
			out = append(out, signal.Entity{Kind: f.kind, Value: s})
		}
	}
	return out
}

func (p *Payload) details(ex ml.Explanation, v value, r payload.Result, scored, skipped int) map[string]any {
	d := ex.Fields()
	d["field"], d["param"], d["value"] = v.field, v.param, shown(v.raw)
	d["unseen_share"], d["truncated"] = r.Unseen, r.Truncated
	d["model_name"], d["model_version"], d["model_hash"] = p.name, p.version, p.hash
	d["input_guard"] = p.inputGuard
	d["values_scored"], d["values_skipped"] = scored, skipped
	return d
}

func (p *Payload) signal(ev *event.Event, v value, r payload.Result, scored, skipped int) signal.Signal {
	level := signal.LevelMedium
	if r.Prob >= 0.95 {
		level = signal.LevelHigh
	}
	tags := []string{"attack.initial_access", "attack.t1190"}
	return signal.Signal{
		ID: signal.DeriveID(KindPayload, p.name, ev.ID), Detector: KindPayload, Layer: signal.LayerML,
		RuleID: p.name, RuleVersion: p.version, Title: "Web request parameter classified as an attack payload",
		Level: level, Score: r.Prob, Tags: tags, Techniques: signal.TechniquesFromTags(tags),
		Entities: entities(ev), Time: ev.Time, EventIDs: []string{ev.ID},
		Explanation: fmt.Sprintf("%s = %q: %s", where(v), shown(v.raw), r.Explanation.Sentence),
		Details:     p.details(r.Explanation, v, r, scored, skipped),
	}
}

// unseenWords names the word tokens of a value the model never saw, the
// features the guard reports as out of range.
func (p *Payload) unseenWords(raw string, k int) []string {
	norm := payload.Normalize(raw)
	seen := map[string]bool{}
	var out []string
	for _, w := range strings.FieldsFunc(norm, func(r rune) bool { return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') }) {
		if _, ok := p.clf.Vocab["w:"+w]; !ok && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	if len(out) > k {
		out = out[:k]
	}
	return out
}

// guardSignal reports an input outside the model's support (the input
// guard is part of the ML layer, as in DESIGN.md): the model's benign
// verdict on it is not to be trusted.
func (p *Payload) guardSignal(ev *event.Event, o oodValue, r payload.Result, scored, skipped int) signal.Signal {
	v := o.v
	words := p.unseenWords(v.raw, 5)
	ex := ml.Explanation{Model: p.name, Score: r.Unseen,
		Top: []ml.Contribution{{Feature: "unseen_feature_share", Value: r.Unseen, Baseline: p.guard, Weight: r.Unseen - p.guard}}}
	var why []string
	var outFeatures []string
	if o.byUnseen {
		why = append(why, fmt.Sprintf("%.0f%% of its features never occurred in the payload model's training data (guard threshold %.0f%%)", 100*r.Unseen, 100*p.guard))
	}
	if o.check != nil {
		names, text := p.input.Explain(*o.check)
		outFeatures = names
		why = append(why, "its shape is "+text)
		for _, out := range o.check.Out {
			ex.Top = append(ex.Top, ml.Contribution{Feature: out.Feature, Value: out.Value, Baseline: p.input.Median[featureIndex(p.input, out.Feature)], Weight: out.Excess})
		}
	}
	score := r.Unseen
	switch {
	case len(why) > 0:
		ex.Sentence = fmt.Sprintf("%s = %q: %s; the model's benign score (P=%.3f) is not trusted",
			where(v), shown(v.raw), strings.Join(why, "; "), r.Prob)
		if o.check != nil {
			score = max(score, o.check.Depth)
		}
	default:
		ex.Sentence = fmt.Sprintf("request has %d parameter values, over the limit of %d: %d were not scored, so the model's benign score (P=%.3f at most on the scored ones) is not trusted",
			scored+skipped, p.maxValues, skipped, r.Prob)
		ex.Top = []ml.Contribution{{Feature: "parameter_values", Value: float64(scored + skipped), Baseline: float64(p.maxValues), Weight: float64(skipped)}}
		words = nil
	}
	if len(words) > 0 {
		ex.Sentence += fmt.Sprintf("; unseen tokens: %s", strings.Join(words, ", "))
	}
	ex.Score = score
	d := p.details(ex, v, r, scored, skipped)
	d["unseen_tokens"], d["prob_attack"], d["guard_threshold"] = words, r.Prob, p.guard
	if outFeatures == nil {
		outFeatures = []string{}
	}
	d["features_out_of_range"] = outFeatures
	if o.check != nil {
		c := o.check
		d["out_of_range"] = c.Out
		d["guard_range_score"], d["guard_range_threshold"] = c.RangeScore, p.input.RangeThreshold
		d["guard_isolation"], d["guard_isolation_threshold"] = c.Depth, p.input.DepthThreshold
		d["guard_distance"], d["guard_distance_threshold"] = c.Distance, p.input.DistThreshold
	}
	return signal.Signal{
		ID: signal.DeriveID(KindPayload, RuleInputAnomaly, ev.ID), Detector: KindPayload, Layer: signal.LayerML,
		RuleID: RuleInputAnomaly, RuleVersion: p.version, Title: "Web input outside the payload model's training support",
		Level: signal.LevelLow, Score: score, Entities: entities(ev), Time: ev.Time, EventIDs: []string{ev.ID},
		Explanation: ex.Sentence, Details: d,
	}
}

func featureIndex(g *guard.Guard, name string) int {
	for j, f := range g.Features {
		if f == name {
			return j
		}
	}
	return 0
}
