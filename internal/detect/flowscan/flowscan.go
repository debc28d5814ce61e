// Package flowscan runs the unsupervised flow scorer (internal/ml/flow) as a
// detector over Zeek conn events.
//
// Flows are collected in tumbling event-time windows. When a window closes
// (the first flow past its end, or Flush at the end of a replay) its flows
// are scored together with a reference sample of earlier, learned flows
// (the online training: a seeded reservoir). The alert threshold is the
// score that only Budget of the reference flows exceed in that joint
// scoring, so the false-positive budget is set on the learned traffic, not
// by a constant. A source whose flows exceed it at least MinFlows times in
// the window raises one signal, explained by its highest-scored flow.
//
// Windows where no source failed MinFlows times are learned without
// scoring (see suspect): scoring costs the reservoir plus the window.
//
// Learning: a window's flows enter the reservoir after scoring, except the
// flows above the threshold, every flow of a source that raised a signal,
// and the events ExcludeFromLearning marks. No
// signal is raised until the reservoir holds MinReference flows.
//
// Invariants: no I/O, event time only, bounded state (Window flows at most
// MaxWindowFlows, reservoir Reference flows); deterministic for Seed. The
// reservoir survives a restart: Snapshot/Restore (the shared hashed snapshot framing) satisfy
// anomaly.Snapshotter, which serve saves and loads.
package flowscan

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/ml/flow"
	"github.com/rampart-ids/rampart/internal/signal"
)

// Kind is the detector kind and the Signal.Detector value.
const Kind = "flowscan"

// RuleID names the model inside the detector.
const RuleID = "flow-scan"

func init() {
	detect.Register(detect.Spec{
		Kind:    Kind,
		Layer:   signal.LayerML,
		Summary: "Scores windows of Zeek conn flows with the unsupervised scan/probe scorer; one signal per source above a false-positive budget.",
		New:     factory,
	})
}

// Config tunes the detector; zero fields take the defaults.
type Config struct {
	Window         time.Duration // tumbling window (window); default 10m
	Budget         float64       // share of reference flows above the threshold (budget); default 0.01
	MinFlows       int           // flows above the threshold for a source signal (min_flows); default 10
	Reference      int           // reservoir size (reference); default 5000
	MinReference   int           // reservoir size before any signal (min_reference); default 500
	MaxWindowFlows int           // flows kept per window (max_window_flows); default 50000
	Seed           uint64        // reservoir and forest seed (seed); default 1
}

func (c *Config) defaults() {
	if c.Window <= 0 {
		c.Window = 10 * time.Minute
	}
	if c.Budget <= 0 || c.Budget >= 1 {
		c.Budget = 0.01
	}
	if c.MinFlows <= 0 {
		c.MinFlows = 10
	}
	if c.Reference <= 0 {
		c.Reference = 5000
	}
	if c.MinReference <= 0 {
		c.MinReference = 500
	}
	if c.MinReference > c.Reference {
		c.MinReference = c.Reference
	}
	if c.MaxWindowFlows <= 0 {
		c.MaxWindowFlows = 50_000
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
}

func factory(o detect.Options) (detect.Detector, error) {
	var c Config
	for k, v := range o.Config {
		var err error
		switch k {
		case "window":
			c.Window, err = detect.ConfigDuration(k, v)
		case "budget":
			c.Budget, err = detect.ConfigFloat(k, v)
			if err == nil && c.Budget >= 1 {
				err = fmt.Errorf("config budget: want a share below 1, got %v", v)
			}
		case "min_flows":
			c.MinFlows, err = detect.ConfigInt(k, v)
		case "reference":
			c.Reference, err = detect.ConfigInt(k, v)
		case "min_reference":
			c.MinReference, err = detect.ConfigInt(k, v)
		case "max_window_flows":
			c.MaxWindowFlows, err = detect.ConfigInt(k, v)
		case "seed":
			var n int
			n, err = detect.ConfigInt(k, v)
			c.Seed = uint64(n)
		default:
			err = fmt.Errorf("unknown config key %q (want window, budget, min_flows, reference, min_reference, max_window_flows, seed)", k)
		}
		if err != nil {
			return nil, fmt.Errorf("flowscan: %w", err)
		}
	}
	return New(c, o.ExcludeFromLearning), nil
}

// Stats counts what the detector did.
type Stats struct {
	Flows, Windows, Signals uint64
	Scored                  uint64 // windows scored (past MinReference and the suspect gate)
	Dropped                 uint64 // flows past MaxWindowFlows in a window
	Excluded                uint64 // flows kept out of learning by ExcludeFromLearning
	Reference               int    // reservoir size now
}

type item struct {
	f       flow.Flow
	id      string
	t       time.Time
	noLearn bool
}

// Detector is the flow-scan detector. Detect and Flush are called from one
// goroutine (detect.Engine); Stats may be called from any.
type Detector struct {
	cfg     Config
	exclude func(*event.Event) bool
	pcg     *rand.PCG // the reservoir's source, kept for snapshots
	rng     *rand.Rand

	mu       sync.Mutex
	start    time.Time // current window start; zero before the first flow
	win      []item
	ref      []flow.Flow
	seen     uint64 // flows offered to the reservoir
	st       Stats
	scoreCfg flow.Config
}

// New builds a detector; exclude (may be nil) marks events never learned.
func New(c Config, exclude func(*event.Event) bool) *Detector {
	c.defaults()
	sc := flow.DefaultConfig()
	sc.Seed = c.Seed
	pcg := rand.NewPCG(c.Seed, 0x5ca4)
	return &Detector{cfg: c, exclude: exclude, pcg: pcg, rng: rand.New(pcg), scoreCfg: sc}
}

// Name returns "flowscan".
func (d *Detector) Name() string { return Kind }

// Stats returns the counters.
func (d *Detector) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.st
	s.Reference = len(d.ref)
	return s
}

// Detect buffers a Zeek conn flow; the first flow past the window's end
// closes it and emits its signals.
func (d *Detector) Detect(_ context.Context, ev *event.Event, emit detect.Emit) error {
	if ev.Time.IsZero() || str(ev, "event.dataset") != "zeek.conn" {
		return nil
	}
	f, ok := toFlow(ev)
	if !ok {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.st.Flows++
	if d.start.IsZero() {
		d.start = ev.Time.Truncate(d.cfg.Window)
	}
	if !ev.Time.Before(d.start.Add(d.cfg.Window)) {
		d.close(emit)
		d.start = ev.Time.Truncate(d.cfg.Window)
	}
	// A late flow (before the window) joins the current window: it is still
	// evidence, and event order in conn logs is by connection end.
	if len(d.win) >= d.cfg.MaxWindowFlows {
		d.st.Dropped++
		return nil
	}
	noLearn := d.exclude != nil && d.exclude(ev)
	if noLearn {
		d.st.Excluded++
	}
	d.win = append(d.win, item{f: f, id: ev.ID, t: ev.Time, noLearn: noLearn})
	return nil
}

// Flush closes the open window (end of a replay).
func (d *Detector) Flush(_ context.Context, emit detect.Emit) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.close(emit)
}

type srcHits struct {
	flows, above int
	best         int // index into the window of the highest-scored flow
	sum          float64
	ids          []string
	last         time.Time
}

// close scores the window against the reservoir, emits, then learns.
func (d *Detector) close(emit detect.Emit) {
	win := d.win
	d.win = nil
	if len(win) == 0 {
		return
	}
	d.st.Windows++
	if len(d.ref) < d.cfg.MinReference || !d.suspect(win) {
		d.learn(win, nil)
		return
	}
	d.st.Scored++
	batch := make([]flow.Flow, 0, len(d.ref)+len(win))
	batch = append(batch, d.ref...)
	for _, it := range win {
		batch = append(batch, it.f)
	}
	scored, err := flow.ScoreFlows(d.scoreCfg, batch)
	if err != nil {
		return // flows were validated in toFlow; a failure scores and learns nothing
	}
	refScores := make([]float64, len(d.ref))
	for i := range d.ref {
		refScores[i] = scored[i].Score
	}
	sort.Float64s(refScores)
	thr := refScores[min(len(refScores)-1, int(float64(len(refScores))*(1-d.cfg.Budget)))]
	ws := scored[len(d.ref):]
	above := make([]bool, len(win))
	by := map[string]*srcHits{}
	for i, it := range win {
		h := by[it.f.Src]
		if h == nil {
			h = &srcHits{best: i}
			by[it.f.Src] = h
		}
		h.flows++
		if ws[i].Score <= thr {
			continue
		}
		above[i] = true
		h.above++
		h.sum += ws[i].Score
		if ws[i].Score > ws[h.best].Score || ws[h.best].Score <= thr {
			h.best = i
		}
		if len(h.ids) < 100 {
			h.ids = append(h.ids, it.id)
		}
		if it.t.After(h.last) {
			h.last = it.t
		}
	}
	srcs := make([]string, 0, len(by))
	for s, h := range by {
		if h.above >= d.cfg.MinFlows {
			srcs = append(srcs, s)
		}
	}
	sort.Strings(srcs)
	// A source that raised a signal teaches nothing from this window, not
	// even its flows under the threshold: its activity is under suspicion.
	for i, it := range win {
		if h := by[it.f.Src]; h.above >= d.cfg.MinFlows {
			above[i] = true
		}
	}
	for _, s := range srcs {
		h := by[s]
		top := ws[h.best].Explanation
		mean := h.sum / float64(h.above)
		end := d.start.Add(d.cfg.Window)
		feats := make([]map[string]any, 0, len(top.Top))
		for _, c := range top.Top {
			feats = append(feats, map[string]any{"feature": c.Feature, "value": c.Value, "baseline": c.Baseline, "weight": c.Weight})
		}
		emit(signal.Signal{
			ID:       signal.DeriveID(Kind, RuleID, h.ids...),
			Detector: Kind, Layer: signal.LayerML, RuleID: RuleID,
			Title:      "Scan-like flows from one address",
			Level:      signal.LevelMedium,
			Score:      mean,
			Tags:       []string{"attack.discovery", "attack.t1046"},
			Techniques: []string{"T1046"},
			Entities:   []signal.Entity{{Kind: "ip", Value: s}},
			Time:       h.last,
			EventIDs:   h.ids,
			Explanation: fmt.Sprintf("%s: %d of its %d flows between %s and %s scored above %.3f (the %s of %d learned flows); top: %s",
				s, h.above, h.flows, d.start.UTC().Format("2006-01-02 15:04"), end.UTC().Format("15:04 UTC"), thr,
				pct(1-d.cfg.Budget), len(d.ref), top.Sentence),
			Details: map[string]any{
				"flows": h.flows, "flows_above": h.above, "threshold": thr, "budget": d.cfg.Budget,
				"reference_flows": len(d.ref), "window_start": d.start.UTC(), "window": d.cfg.Window.String(),
				"top_flow": top.Sentence, "top_features": feats,
			},
		})
		d.st.Signals++
	}
	d.learn(win, above)
}

// suspect is the cheap gate before scoring: some source failed at least
// MinFlows times in the window (no reply, or a connection never
// established). The scorer ranks failed, one-sided flows highest, so a
// window without such a source cannot raise a signal worth its cost
// (scoring is the reservoir plus the window, per window).
func (d *Detector) suspect(win []item) bool {
	n := map[string]int{}
	for i := range win {
		f := &win[i].f
		if f.RespPkts == 0 && f.RespBytes == 0 || neverEstablished[f.State] {
			if n[f.Src]++; n[f.Src] >= d.cfg.MinFlows {
				return true
			}
		}
	}
	return false
}

var neverEstablished = map[string]bool{"S0": true, "REJ": true, "RSTOS0": true, "RSTRH": true, "SH": true, "SHR": true}

// learn offers the window's flows to the reservoir (Algorithm R), except
// excluded events and flows above the threshold (above may be nil).
func (d *Detector) learn(win []item, above []bool) {
	for i, it := range win {
		if it.noLearn || (above != nil && above[i]) {
			continue
		}
		d.seen++
		if len(d.ref) < d.cfg.Reference {
			d.ref = append(d.ref, it.f)
			continue
		}
		if j := d.rng.Uint64N(d.seen); j < uint64(d.cfg.Reference) {
			d.ref[j] = it.f
		}
	}
}

func pct(q float64) string {
	s := strconv.FormatFloat(q*100, 'f', -1, 64)
	switch {
	case strings.HasSuffix(s, "1") && !strings.HasSuffix(s, "11"):
		return s + "st percentile"
	case strings.HasSuffix(s, "2") && !strings.HasSuffix(s, "12"):
		return s + "nd percentile"
	case strings.HasSuffix(s, "3") && !strings.HasSuffix(s, "13"):
		return s + "rd percentile"
	}
	return s + "th percentile"
}

// toFlow reads the scorer's fields from a Zeek conn event.
func toFlow(ev *event.Event) (flow.Flow, bool) {
	f := flow.Flow{
		Src: str(ev, "source.ip"), Dst: str(ev, "destination.ip"),
		Proto: str(ev, "network.transport"), State: str(ev, "zeek.conn_state"), History: str(ev, "zeek.history"),
		Duration: num(ev, "zeek.duration"), OrigBytes: num(ev, "zeek.orig_bytes"), RespBytes: num(ev, "zeek.resp_bytes"),
		OrigPkts: num(ev, "zeek.orig_pkts"), RespPkts: num(ev, "zeek.resp_pkts"),
	}
	if p, ok := ev.Fields["destination.port"].(int64); ok && p >= 0 && p <= 65535 {
		f.DstPort = int(p)
	}
	return validFlow(f)
}

// validFlow: addresses present, port in range, counts finite and ≥ 0 (the
// scorer refuses anything else, and a snapshot must not smuggle it in).
func validFlow(f flow.Flow) (flow.Flow, bool) {
	if f.Src == "" || f.Dst == "" || f.DstPort < 0 || f.DstPort > 65535 {
		return f, false
	}
	for _, v := range []float64{f.Duration, f.OrigBytes, f.RespBytes, f.OrigPkts, f.RespPkts} {
		if v < 0 || v != v || v > 1e18 {
			return f, false
		}
	}
	return f, true
}

func str(ev *event.Event, k string) string { return event.ValueString(ev.Fields[k]) }

func num(ev *event.Event, k string) float64 {
	switch x := ev.Fields[k].(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}
