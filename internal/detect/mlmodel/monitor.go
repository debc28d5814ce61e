package mlmodel

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/ml/guard"
	"github.com/rampart-ids/rampart/internal/signal"
)

// maxShiftedShown bounds the features named in a window signal's sentence.
const maxShiftedShown = 4

// observe adds one scored value of ev to the shift monitor; a window it
// closes that shifted is emitted as one signal.
func (p *Payload) observe(ev *event.Event, x []float64, emit detect.Emit) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, err := p.mon.Observe(x, ev.Time)
	if err != nil {
		return fmt.Errorf("payload detector: input monitor: %w", err)
	}
	if s != nil {
		ids := p.winIDs
		p.winIDs = nil
		if s.Anomalous() {
			emit(p.shiftSignal(s, ids))
		}
	}
	if n := len(p.winIDs); n < maxWindowIDs && (n == 0 || p.winIDs[n-1] != ev.ID) {
		p.winIDs = append(p.winIDs, ev.ID)
	}
	return nil
}

// Flush closes the monitor's open window (end of a replay).
func (p *Payload) Flush(_ context.Context, emit detect.Emit) {
	if p.mon == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.mon.Close()
	ids := p.winIDs
	p.winIDs = nil
	if s.Anomalous() {
		emit(p.shiftSignal(s, ids))
	}
}

// shiftSignal reports a window whose inputs shifted: the features whose
// distribution moved (the bin that moved most, training share against the
// window's) and the value count against the recent windows' band.
func (p *Payload) shiftSignal(s *guard.Shift, ids []string) signal.Signal {
	var parts []string
	names := []string{}
	score := 0.0
	for i, f := range s.Shifted {
		names = append(names, f.Feature)
		score = math.Max(score, f.PSI/f.Bound)
		if i < maxShiftedShown {
			parts = append(parts, fmt.Sprintf("%s %s in %.0f%% of values against %.0f%% in training (PSI %.2f, bound %.2f)",
				f.Feature, f.Range, 100*f.Now, 100*f.Train, f.PSI, f.Bound))
		}
	}
	if len(s.Shifted) > maxShiftedShown {
		parts = append(parts, fmt.Sprintf("%d more features shifted", len(s.Shifted)-maxShiftedShown))
	}
	if s.RateAnomalous {
		names = append(names, "input_rate")
		score = math.Max(score, float64(s.Inputs)/s.Burst)
		parts = append(parts, fmt.Sprintf("%d values scored against a median of %.0f in the last %d windows (burst above %.0f)",
			s.Inputs, s.Median, s.Windows, s.Burst))
	}
	// score/2 maps "at the bound" to 0.5, "twice the bound" and more to 1.
	score = math.Min(1, score/2)
	level := signal.LevelLow
	if len(s.Shifted) > 0 && s.RateAnomalous {
		level = signal.LevelMedium
	}
	from := s.From.UTC().Format(time.RFC3339)
	expl := fmt.Sprintf("inputs to payload model %s@%s shifted in the window from %s (%s, %d values): %s; the model's scores in this window are not trusted",
		p.name, p.version, from, s.To.Sub(s.From), s.Inputs, strings.Join(parts, "; "))
	shifted := s.Shifted
	if shifted == nil {
		shifted = []guard.FeaturePSI{}
	}
	return signal.Signal{
		ID: signal.DeriveID(KindPayload, RuleInputAnomaly, "window", p.hash, from), Detector: KindPayload, Layer: signal.LayerML,
		RuleID: RuleInputAnomaly, RuleVersion: p.version, Title: "Shift in the payload model's inputs",
		Level: level, Score: score, Time: s.Last, EventIDs: ids, Explanation: expl,
		Details: map[string]any{
			"model_name": p.name, "model_version": p.version, "model_hash": p.hash,
			"window_start": s.From, "window_end": s.To, "values": s.Inputs,
			"features_out_of_range": names, "shifted": shifted,
			"rate_anomalous": s.RateAnomalous, "rate_median": s.Median, "rate_sigma": s.Sigma,
			"rate_burst_above": s.Burst, "rate_windows": s.Windows,
		},
	}
}
