package mlmodel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/detect/mlmodel"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/ml/dataset"
	"github.com/rampart-ids/rampart/internal/ml/guard"
	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// heldRows are http-params rows of one class the test model never saw
// (the committed training slice is every tenth row from the first),
// shuffled with a seed.
func heldRows(t *testing.T, attack bool) []string {
	t.Helper()
	rows, err := dataset.ReadPayloads(filepath.Join(testutil.SharedData(t, "http-params"), "payload_train.csv"), 100_000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, r := range rows {
		if i%10 != 0 && r.Payload != "" && r.Attack == attack {
			out = append(out, r.Payload)
		}
	}
	rand.New(rand.NewPCG(7, 7)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// window is one minute of values: n of them, evenly spaced, each passed
// through shape.
type window struct {
	n     int
	shape func(string) string
	rows  []string // nil: the stream's rows
}

// stream turns windows into events (one value per event, as a query
// parameter), taking payloads in order from rows.
func stream(rows []string, ws []window) []*event.Event {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var evs []*event.Event
	k := 0
	for w, win := range ws {
		for i := range win.n {
			var p string
			if win.rows != nil {
				p = win.rows[i%len(win.rows)]
			} else {
				p = rows[k%len(rows)]
				k++
			}
			if win.shape != nil {
				p = win.shape(p)
			}
			ev := event.New()
			ev.ID = fmt.Sprintf("w%d-%d", w, i)
			ev.Time = t0.Add(time.Duration(w)*time.Minute + time.Duration(i)*time.Minute/time.Duration(win.n))
			ev.Set("source.ip", "192.0.2.7")
			ev.Set("url.query", "q="+url.QueryEscape(p))
			evs = append(evs, ev)
		}
	}
	return evs
}

// windowSignals replays evs through a fresh detector (one-minute monitor
// windows) and returns its window signals, the rest counted.
func windowSignals(t *testing.T, a *model.Artifact, evs []*event.Event) (wins []signal.Signal, all []signal.Signal) {
	t.Helper()
	d, err := mlmodel.NewPayload(mlmodel.PayloadOptions{Artifact: a, Monitor: guard.MonitorConfig{Window: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	all = run(t, d, evs)
	d.Flush(context.Background(), func(s signal.Signal) { all = append(all, s) })
	for _, s := range all {
		if _, ok := s.Details["window_start"]; ok {
			wins = append(wins, s)
		}
	}
	return wins, all
}

// TestPayloadInputShift: golden streams of real held-out payloads in,
// window signals out. The reference is the benign training rows (live
// traffic is mostly benign), so the ordinary stream is held-out benign
// rows: those windows raise nothing; a window whose values change shape,
// or a wave of attack payloads, raises one signal naming the shifted
// features with training and window shares; a burst of ordinary values
// raises one naming the rate; a replay gives the same signals.
func TestPayloadInputShift(t *testing.T) {
	rows, attacks := heldRows(t, false), heldRows(t, true)
	_, a := trainRegistry(t)
	normal := window{n: 200}
	history := slices.Repeat([]window{normal}, 8)
	cyrillic := strings.NewReplacer("a", "а", "e", "е", "o", "о", "p", "р", "c", "с", "x", "х", "y", "у", "i", "і", "s", "ѕ")
	for _, tc := range []struct {
		name  string
		shift window
		// feature the signal must name, with the window's share of the bin
		// that moved most above (or below) the training share.
		feature string
	}{
		{"in-distribution", normal, ""},
		{"ten times longer", window{n: 200, shape: func(p string) string { return strings.Repeat(p, 10) }}, "log_len"},
		{"other alphabet", window{n: 200, shape: cyrillic.Replace}, "nonascii"},
		{"attack wave", window{n: 200, rows: attacks}, "char_="},
		{"rate burst", window{n: 2000}, "input_rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := append(append(slices.Clone(history), tc.shift), normal, normal)
			evs := stream(rows, ws)
			wins, all := windowSignals(t, a, evs)
			if tc.feature == "" {
				if len(wins) != 0 {
					t.Fatalf("in-distribution stream raised %d window signals: %s", len(wins), wins[0].Explanation)
				}
				return
			}
			if len(wins) != 1 {
				for _, s := range wins {
					t.Log(s.Explanation)
				}
				t.Fatalf("%d window signals, want 1", len(wins))
			}
			s := wins[0]
			names, _ := s.Details["features_out_of_range"].([]string)
			if s.RuleID != mlmodel.RuleInputAnomaly || s.Layer != signal.LayerML || !slices.Contains(names, tc.feature) ||
				!strings.HasPrefix(s.EventIDs[0], "w8-") || s.Score <= 0 || s.Score > 1 {
				t.Fatalf("window signal %+v", s)
			}
			if tc.feature == "input_rate" {
				if len(names) != 1 || s.Details["values"] != 2000 || s.Details["rate_median"] != 200.0 || !strings.Contains(s.Explanation, "2000 values scored against a median of 200") {
					t.Fatalf("burst: %v: %s", names, s.Explanation)
				}
			} else {
				if slices.Contains(names, "input_rate") || !strings.Contains(s.Explanation, tc.feature+" ") || !strings.Contains(s.Explanation, "in training (PSI") {
					t.Fatalf("shift: %v: %s", names, s.Explanation)
				}
			}
			t.Log(s.Explanation)
			// Replay: a fresh detector over the same events gives the same signals.
			if _, again := windowSignals(t, a, evs); !cmp.Equal(all, again) {
				t.Fatal("replay gave different signals")
			}
		})
	}
}

// TestPayloadInputShiftHeldOut: every held-out benign row, in windows of
// 200 (the default MinInputs), raises no window signal: the false-window
// figure on in-distribution traffic.
func TestPayloadInputShiftHeldOut(t *testing.T) {
	rows := heldRows(t, false)
	_, a := trainRegistry(t)
	ws := slices.Repeat([]window{{n: 200}}, len(rows)/200)
	wins, _ := windowSignals(t, a, stream(rows, ws))
	t.Logf("%d of %d windows of 200 held-out benign values flagged", len(wins), len(ws))
	for _, s := range wins {
		t.Errorf("in-distribution window flagged: %s", s.Explanation)
	}
}

// TestPayloadInputShiftOldArtifact: an artifact whose guard predates the
// monitor's reference still loads; the monitor is off (a burst passes).
func TestPayloadInputShiftOldArtifact(t *testing.T) {
	_, a := trainRegistry(t)
	g, err := guard.FromArtifact(a)
	if err != nil {
		t.Fatal(err)
	}
	if g.Stream == nil || g.Stream.Population != "benign training rows" {
		t.Fatalf("trained guard has no benign reference: %+v", g.Stream)
	}
	g.Stream = nil
	raw, err := g.Encode()
	if err != nil {
		t.Fatal(err)
	}
	body := a.Body
	body.InputGuard = raw
	old, err := model.New(body, json.RawMessage(a.Body.Params))
	if err != nil {
		t.Fatal(err)
	}
	// Three benign values over and over, then ten times faster: shifted
	// windows and a burst, which only the monitor would report.
	rows := []string{"madrid", "c/ caridad s/n", "campello, el"}
	ws := append(slices.Repeat([]window{{n: 200}}, 8), window{n: 2000})
	wins, _ := windowSignals(t, old, stream(rows, append(ws, window{n: 1})))
	if len(wins) != 0 {
		t.Fatalf("monitor ran without a reference: %s", wins[0].Explanation)
	}
	if wins, _ := windowSignals(t, a, stream(rows, append(ws, window{n: 1}))); len(wins) != 9 {
		t.Fatalf("with the reference the stream gave %d window signals, want 9", len(wins))
	}
}

func TestPayloadMonitorWindowConfig(t *testing.T) {
	dir, _ := trainRegistry(t)
	spec, _ := detect.Lookup(mlmodel.KindPayload)
	for _, tc := range []struct {
		window any
		ok     bool
	}{{"1m", true}, {"15m", true}, {"30s", false}, {"soon", false}, {7, false}} {
		_, err := spec.New(detect.Options{Config: map[string]any{"models": dir, "monitor_window": tc.window}})
		if (err == nil) != tc.ok {
			t.Errorf("monitor_window %v: %v", tc.window, err)
		}
	}
}
