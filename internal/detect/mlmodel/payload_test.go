package mlmodel_test

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/detect/mlmodel"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/modelreg"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite golden files")

// trainRegistry trains the payload model on the committed slice of
// http-params into a temporary registry and returns the folder.
func trainRegistry(t testing.TB) (string, *model.Artifact) {
	t.Helper()
	a, err := modelreg.Train(context.Background(), modelreg.KindPayload, modelreg.TrainOptions{
		Data: filepath.Join("testdata", "http-params"), Seed: 1, Created: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	reg, err := modelreg.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := reg.Save(a, false); err != nil {
		t.Fatal(err)
	}
	return dir, a
}

type jsonEvent struct {
	ID     string         `json:"id"`
	Time   time.Time      `json:"time"`
	Format string         `json:"format"`
	Fields map[string]any `json:"fields"`
}

func readEvents(t testing.TB, path string) []*event.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*event.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var je jsonEvent
		if err := json.Unmarshal(sc.Bytes(), &je); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ev := event.New()
		ev.ID, ev.Time, ev.Format = je.ID, je.Time, je.Format
		for k, v := range je.Fields {
			ev.Set(k, v)
		}
		out = append(out, ev)
	}
	return out
}

func run(t testing.TB, d detect.Detector, evs []*event.Event) []signal.Signal {
	t.Helper()
	var out []signal.Signal
	for _, ev := range evs {
		if err := d.Detect(context.Background(), ev, func(s signal.Signal) { out = append(out, s) }); err != nil {
			t.Fatalf("%s: %v", ev.ID, err)
		}
	}
	return out
}

// golden compares signals (as JSON) with testdata/<name>.golden.json.
func golden(t *testing.T, name string, sigs []signal.Signal) {
	t.Helper()
	got, err := json.MarshalIndent(sigs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	var g, w any
	json.Unmarshal(got, &g)
	json.Unmarshal(want, &w)
	if diff := cmp.Diff(w, g); diff != "" {
		t.Fatalf("signals differ from %s (-want +got):\n%s", path, diff)
	}
}

func TestPayloadGolden(t *testing.T) {
	dir, _ := trainRegistry(t)
	spec, ok := detect.Lookup(mlmodel.KindPayload)
	if !ok || spec.Layer != signal.LayerML {
		t.Fatalf("payload kind not registered: %+v", spec)
	}
	d, err := spec.New(detect.Options{Config: map[string]any{"models": dir}})
	if err != nil {
		t.Fatal(err)
	}
	evs := readEvents(t, filepath.Join("testdata", "payload_events.jsonl"))
	sigs := run(t, d, evs)
	golden(t, "payload", sigs)

	byEvent := map[string]signal.Signal{}
	for _, s := range sigs {
		if s.Score < 0 || s.Score > 1 || s.Explanation == "" || s.Details["sentence"] == nil || s.Details["top"] == nil {
			t.Errorf("%s: score %v, explanation %q, details %v", s.EventIDs, s.Score, s.Explanation, s.Details)
		}
		byEvent[s.EventIDs[0]] = s
	}
	for _, id := range []string{"sqli-query", "xss-body"} {
		s, ok := byEvent[id]
		if !ok || s.RuleID != "payload" || s.Layer != signal.LayerML || s.Score < 0.5 || !strings.Contains(s.Explanation, "strongest tokens") {
			t.Errorf("%s: want an attack signal, got %+v", id, s)
		}
	}
	// With a model trained on a tenth of the data, these attacks may score
	// benign; they must then be flagged by the input guard, never pass silently.
	for _, id := range []string{"traversal-original", "cmdi-query"} {
		if _, ok := byEvent[id]; !ok {
			t.Errorf("%s: attack passed silently", id)
		}
	}
	if s, ok := byEvent["ood-blob"]; !ok || s.RuleID != mlmodel.RuleInputAnomaly || s.Layer != signal.LayerML {
		t.Errorf("ood-blob: want a model-input-anomaly signal, got %+v", s)
	}
	// cmdi-unix (";cat /etc/shadow") is pinned by the golden file only: the
	// training data's command injections are Windows "dir c:" variants, so
	// the small model may miss it; the rule layer is the one to catch it.
	for _, id := range []string{"benign-search", "no-url", "json-body-benign", "in-support-form"} {
		if s, ok := byEvent[id]; ok {
			t.Errorf("%s: unexpected signal %s: %s", id, s.RuleID, s.Explanation)
		}
	}
	// Known words in a shape no training input had: only the input guard
	// stored in the artifact catches it, and it names the feature.
	s, ok := byEvent["out-of-support-shape"]
	if names, _ := s.Details["features_out_of_range"].([]string); !ok || s.RuleID != mlmodel.RuleInputAnomaly ||
		!slices.Contains(names, "char_,") || !strings.Contains(s.Explanation, "char_,=") || s.Details["input_guard"] != "shape and unseen-feature share" {
		t.Errorf("out-of-support-shape: want a model-input-anomaly signal naming char_, got %+v", s)
	}
	// Replay: the same events give the same signals.
	if again := run(t, d, evs); !cmp.Equal(sigs, again) {
		t.Fatal("replay gave different signals")
	}
}

func TestPayloadLimitsAndErrors(t *testing.T) {
	dir, a := trainRegistry(t)
	d, err := mlmodel.NewPayload(mlmodel.PayloadOptions{Artifact: a, MaxValues: 3})
	if err != nil {
		t.Fatal(err)
	}
	ev := event.New()
	ev.ID = "many"
	// Padding with short benign values does not push the long attack out:
	// the longest values are scored, and the skipped count is reported.
	ev.Set("url.query", "a=1&b=2&c=3&d=4&e=1%27%20union%20select%20username,password%20from%20users--&f=5")
	var sigs []signal.Signal
	d.Detect(context.Background(), ev, func(s signal.Signal) { sigs = append(sigs, s) })
	if len(sigs) != 1 || sigs[0].RuleID != "payload" || sigs[0].Details["values_skipped"] != 3 || sigs[0].Details["param"] != "e" {
		t.Fatalf("padded attack: %+v", sigs)
	}
	// Benign values beyond the limit: the guard says the verdict is partial.
	ev.Set("url.query", "a=madrid&b=2&c=3&d=4&e=5")
	sigs = nil
	d.Detect(context.Background(), ev, func(s signal.Signal) { sigs = append(sigs, s) })
	if len(sigs) != 1 || sigs[0].RuleID != mlmodel.RuleInputAnomaly || !strings.Contains(sigs[0].Explanation, "2 were not scored") {
		t.Fatalf("over the limit: %+v", sigs)
	}
	ev.Set("url.query", "e=../../../../etc/passwd&"+strings.Repeat("x", 100000)+"=1")
	sigs = nil
	d.Detect(context.Background(), ev, func(s signal.Signal) { sigs = append(sigs, s) })
	if len(sigs) != 1 || len(sigs[0].Details["value"].(string)) > 210 {
		t.Fatalf("long input: %d signals", len(sigs))
	}

	for _, tc := range []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{}, "models"},
		{map[string]any{"models": dir, "model": "nothere"}, "not found"},
		{map[string]any{"models": dir, "bogus": 1}, "unknown config key"},
		{map[string]any{"models": dir, "max_values": -1}, "positive integer"},
	} {
		spec, _ := detect.Lookup(mlmodel.KindPayload)
		if _, err := spec.New(detect.Options{Config: tc.cfg}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %v: err %v, want %q", tc.cfg, err, tc.want)
		}
	}
	// A model of another kind is refused.
	other, _ := model.New(model.Body{Kind: "seq", Name: "x", Version: "1"}, map[string]int{})
	if _, err := mlmodel.NewPayload(mlmodel.PayloadOptions{Artifact: other}); err == nil || !strings.Contains(err.Error(), "want payload-lr") {
		t.Fatalf("wrong kind: %v", err)
	}
	// A tampered file in the registry is refused when the detector is built.
	p := filepath.Join(dir, "payload", "1.model")
	data, _ := os.ReadFile(p)
	data[len(data)/2] ^= 1
	os.WriteFile(p, data, 0o600)
	spec, _ := detect.Lookup(mlmodel.KindPayload)
	if _, err := spec.New(detect.Options{Config: map[string]any{"models": dir}}); err == nil || !strings.Contains(err.Error(), "refusing model file") {
		t.Fatalf("tampered model: %v", err)
	}
}

// TestPayloadSharedData trains on the whole http-params training file: the
// attacks of the golden events are then classified, not just guarded, and
// the benign ones stay quiet.
func TestPayloadSharedData(t *testing.T) {
	data := testutil.SharedData(t, "http-params")
	a, err := modelreg.Train(context.Background(), modelreg.KindPayload, modelreg.TrainOptions{Data: data, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	d, err := mlmodel.NewPayload(mlmodel.PayloadOptions{Artifact: a})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range run(t, d, readEvents(t, filepath.Join("testdata", "payload_events.jsonl"))) {
		got[s.EventIDs[0]] = s.RuleID
	}
	want := map[string]string{"sqli-query": "payload", "xss-body": "payload", "traversal-original": "payload", "cmdi-query": "payload", "ood-blob": mlmodel.RuleInputAnomaly}
	for id, rule := range want {
		if got[id] != rule {
			t.Errorf("%s: rule %q, want %q", id, got[id], rule)
		}
	}
	for _, id := range []string{"benign-search", "no-url", "json-body-benign"} {
		if got[id] != "" {
			t.Errorf("%s: unexpected %s signal", id, got[id])
		}
	}
	t.Logf("signals: %v", got)
}

// BenchmarkPayloadDetect: web events carrying one http-params payload each
// (the committed slice) plus a benign page parameter, benign and attack
// payloads measured apart (an attack pays for its explanation).
func BenchmarkPayloadDetect(b *testing.B) {
	_, a := trainRegistry(b)
	// The same model without its input guard: the guard's cost is the difference.
	body := a.Body
	body.InputGuard = nil
	unguarded, err := model.New(body, json.RawMessage(a.Body.Params))
	if err != nil {
		b.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join("testdata", "http-params", "payload_train.csv"))
	evs := map[string][]*event.Event{}
	for i, line := range strings.Split(string(data), "\n")[1:] {
		p, _, _ := strings.Cut(strings.TrimPrefix(line, `"`), `",`)
		if p == "" {
			continue
		}
		kind := "attack"
		if strings.HasSuffix(strings.TrimSpace(line), `"norm"`) {
			kind = "benign"
		}
		ev := event.New()
		ev.ID = strconv.Itoa(i)
		ev.Set("url.query", "q="+url.QueryEscape(p)+"&page=2")
		evs[kind] = append(evs[kind], ev)
	}
	emit := func(signal.Signal) {}
	for _, art := range []struct {
		name string
		a    *model.Artifact
	}{{"guarded", a}, {"unguarded", unguarded}} {
		d, err := mlmodel.NewPayload(mlmodel.PayloadOptions{Artifact: art.a})
		if err != nil {
			b.Fatal(err)
		}
		for _, kind := range []string{"benign", "attack"} {
			b.Run(art.name+"/"+kind, func(b *testing.B) {
				es := evs[kind]
				for i := 0; i < b.N; i++ {
					d.Detect(context.Background(), es[i%len(es)], emit)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// TestFastScoreMatches: the detector's fast path decides exactly as the
// classifier's full Score on every payload of the committed slice.
func TestFastScoreMatches(t *testing.T) {
	_, a := trainRegistry(t)
	data, _ := os.ReadFile(filepath.Join("testdata", "http-params", "payload_train.csv"))
	payloads := []string{"", " ", "\x02\x03", "a  b\tc", "ÀÉ 漢字 %C0%AE", strings.Repeat("x'", 5000)}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		p, _, _ := strings.Cut(strings.TrimPrefix(line, `"`), `",`)
		payloads = append(payloads, p)
	}
	n, err := mlmodel.CheckFastScore(a, payloads)
	if err != nil {
		t.Fatal(err)
	}
	if n < 2000 {
		t.Fatalf("checked %d payloads", n)
	}
}
