package demo_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/app"
	"github.com/rampart-ids/rampart/internal/demo"
	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/ingest"
	"github.com/rampart-ids/rampart/internal/signal"
)

// run feeds batches through the bundled engine the way the pipeline does
// (one auto-detecting parser per source) and returns the signals.
func run(t *testing.T, eng *detect.Engine, parsers map[string]format.Parser, batches [][]ingest.Record) []signal.Signal {
	t.Helper()
	var sigs []signal.Signal
	for _, b := range batches {
		for _, rec := range b {
			p := parsers[rec.Source]
			if p == nil {
				p = format.NewAuto(format.Options{Location: time.UTC})
				parsers[rec.Source] = p
			}
			ev := &event.Event{Fields: map[string]any{}, Source: rec.Source, Raw: rec.Data, Received: rec.Received,
				ID: event.DeriveID(rec.Source, rec.Position, rec.Data)}
			if err := p.Parse(rec.Data, ev); err != nil {
				t.Fatalf("demo record %s does not parse: %v\n%s", rec.Position, err, rec.Data)
			}
			eng.Process(context.Background(), ev, func(s signal.Signal) { sigs = append(sigs, s) })
		}
	}
	return sigs
}

// TestDemoMinute is what `serve --demo` promises: after the replayed past
// day (which raises nothing), one minute of the live stream raises signals
// of every layer, the ML ones from each ML detector and explained, and no
// signal names a path on the server.
func TestDemoMinute(t *testing.T) {
	clock := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	g := demo.New(7, func() time.Time { return clock })
	eng, cleanup, err := app.BuildEngine(context.Background(), app.RuleSet{})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	parsers := map[string]format.Parser{}

	hist := g.HistoryBatches()
	if first := hist[0][0]; !strings.Contains(string(first.Data), clock.Add(-demo.History).Format("2006-01-02T15:04")) {
		t.Errorf("history does not start %v before now: %s", demo.History, first.Data)
	}
	if sigs := run(t, eng, parsers, hist); len(sigs) > 0 {
		t.Fatalf("the ordinary history raised %d signals, first: %s %s", len(sigs), sigs[0].RuleID, sigs[0].Explanation)
	}

	var live [][]ingest.Record
	for range 30 { // one minute at the serve interval of 2 s
		live = append(live, g.Next())
		clock = clock.Add(2 * time.Second)
	}
	sigs := run(t, eng, parsers, live)
	layers := map[signal.Layer]int{}
	ml := map[string]int{}
	tmp := filepath.Clean(os.TempDir())
	for _, s := range sigs {
		layers[s.Layer]++
		if s.Layer == signal.LayerML {
			ml[s.Detector]++
			if s.Explanation == "" || len(s.Details) == 0 {
				t.Errorf("ML signal %s/%s without explanation or details", s.Detector, s.RuleID)
			}
		}
		d, _ := json.Marshal(s.Details)
		if strings.Contains(string(d), tmp) || strings.Contains(s.Explanation, tmp) {
			t.Errorf("%s signal %s names a server path: %s", s.Detector, s.RuleID, d)
		}
	}
	t.Logf("layers %v, ML detectors %v", layers, ml)
	for _, l := range []signal.Layer{signal.LayerRules, signal.LayerStateful, signal.LayerML} {
		if layers[l] == 0 {
			t.Errorf("no %s signal in the demo's first minute", l)
		}
	}
	for _, d := range []string{"anomaly", "rarity", "logtemplate"} {
		if ml[d] == 0 {
			t.Errorf("no %s signal in the demo's first minute", d)
		}
	}
}

// TestDemoQuietWithoutAttacks: ordinary activity at the rate the history
// taught raises nothing for two hours after the history, so the ML signals
// of the demo come from its attack scenarios, not from the stream's shape.
func TestDemoQuietWithoutAttacks(t *testing.T) {
	clock := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	g := demo.New(11, func() time.Time { return clock })
	eng, cleanup, err := app.BuildEngine(context.Background(), app.RuleSet{})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	parsers := map[string]format.Parser{}
	batches := g.HistoryBatches()
	for at := clock; at.Before(clock.Add(2 * time.Hour)); at = at.Add(demo.HistoryStep) {
		batches = append(batches, g.OrdinaryAt(at))
	}
	for _, s := range run(t, eng, parsers, batches) {
		t.Errorf("ordinary activity raised %s/%s: %s", s.Detector, s.RuleID, s.Explanation)
	}
}

// TestHistoryRepeatable: a restarted demo replays the same history records
// for the minutes both runs cover (so the store keeps them once), whatever
// the seed of the live stream.
func TestHistoryRepeatable(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 30, 0, time.UTC)
	a := demo.New(1, func() time.Time { return t0 }).HistoryBatches()
	b := demo.New(2, func() time.Time { return t0.Add(30 * time.Minute) }).HistoryBatches()
	// b starts 30 minutes later: its first batch is a's 31st.
	if len(a) != len(b) || len(a) < 31 {
		t.Fatalf("%d and %d batches", len(a), len(b))
	}
	for i := range len(a) - 30 {
		x, y := a[i+30], b[i]
		if len(x) != len(y) {
			t.Fatalf("batch %d: %d and %d records", i, len(x), len(y))
		}
		for j := range x {
			if x[j].Position != y[j].Position || string(x[j].Data) != string(y[j].Data) {
				t.Fatalf("batch %d record %d differs:\n%s %s\n%s %s", i, j, x[j].Position, x[j].Data, y[j].Position, y[j].Data)
			}
		}
	}
	if a[0][0].Position == a[1][0].Position {
		t.Error("two minutes share a position")
	}
}
