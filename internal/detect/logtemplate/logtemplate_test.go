package logtemplate_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/detect/logtemplate"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	_ "github.com/rampart-ids/rampart/internal/format/all"
	"github.com/rampart-ids/rampart/internal/format/formattest"
	"github.com/rampart-ids/rampart/internal/ml/drain"
	"github.com/rampart-ids/rampart/internal/modelreg"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite golden files")

// decode reads a log file through the real format decoder.
func decode(t testing.TB, path string) []*event.Event {
	t.Helper()
	evs, skipped := formattest.FileEvents(t, path, format.DecoderOptions{})
	if skipped != 0 {
		t.Fatalf("%s: %d records not read", path, skipped)
	}
	return evs
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

func build(t testing.TB, cfg map[string]any) detect.Detector {
	t.Helper()
	spec, ok := detect.Lookup(logtemplate.Kind)
	if !ok || spec.Layer != signal.LayerML {
		t.Fatalf("kind %s not registered: %+v", logtemplate.Kind, spec)
	}
	d, err := spec.New(detect.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestGolden: 40 syslog lines of a quiet host; after a warm-up of 25 lines
// the USB storage lines are new templates, the second USB attach is rare,
// and the routine lines stay quiet.
func TestGolden(t *testing.T) {
	evs := decode(t, filepath.Join("testdata", "syslog.log"))
	d := build(t, map[string]any{"warm_up": 25, "rare_count": 2, "rare_share": 0.1})
	sigs := run(t, d, evs)
	got, _ := json.MarshalIndent(sigs, "", "  ")
	path := filepath.Join("testdata", "syslog.golden.json")
	if *update {
		os.WriteFile(path, append(got, '\n'), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	var g, w any
	json.Unmarshal(got, &g)
	json.Unmarshal(want, &w)
	if diff := cmp.Diff(w, g); diff != "" {
		t.Fatalf("signals differ from %s (-want +got):\n%s", path, diff)
	}
	var rules []string
	for _, s := range sigs {
		if s.Score < 0 || s.Score > 1 || s.Layer != signal.LayerML || s.Explanation == "" || s.Details["sentence"] != s.Explanation {
			t.Errorf("bad signal %+v", s)
		}
		rules = append(rules, s.RuleID+":"+s.Details["template"].(string))
	}
	wantRules := []string{
		"new-template:usb <*>: new high-speed USB device number <*> using xhci_hcd",
		"new-template:usb-storage <*>:<*>: USB Mass Storage device detected",
		"rare-template:usb <*>: new high-speed USB device number <*> using xhci_hcd",
		"new-template:Audit daemon rotating log files",
	}
	if !cmp.Equal(rules, wantRules) {
		t.Fatalf("signals:\n%s\nwant:\n%s", strings.Join(rules, "\n"), strings.Join(wantRules, "\n"))
	}
	// Replay on a fresh detector: identical signals.
	if again := run(t, build(t, map[string]any{"warm_up": 25, "rare_count": 2, "rare_share": 0.1}), evs); !cmp.Equal(sigs, again) {
		t.Fatal("replay gave different signals")
	}
}

func TestSelectionAndLimits(t *testing.T) {
	d, err := logtemplate.New(logtemplate.Options{WarmUp: 1, MaxTemplates: 3})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(format, dataset, action, msg string) *event.Event {
		ev := event.New()
		ev.ID, ev.Format, ev.Time = msg, format, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		ev.Set("event.dataset", dataset)
		ev.Set("event.action", action)
		ev.Set("message", msg)
		return ev
	}
	for _, tc := range []struct {
		ev   *event.Event
		want bool
	}{
		{mk("syslog", "system.syslog", "", "x"), true},
		{mk("auth", "system.auth", "", "odd sshd line"), true},
		{mk("auth", "system.auth", "ssh_login", "Accepted password"), false},
		{mk("windows", "windows.security", "", "An account was logged on"), false},
		{mk("ecs", "system.syslog", "", "y"), true},
	} {
		if got := d.Applies(tc.ev); got != tc.want {
			t.Errorf("Applies(%s/%s/%q) = %v", tc.ev.Format, tc.ev.Fields["event.dataset"], tc.ev.Fields["event.action"], got)
		}
	}
	// Bounded state: distinct lines beyond MaxTemplates are errors, not drops or growth.
	var errs int
	for _, msg := range []string{"alpha one", "beta two words", "gamma three more words", "delta four five six seven", "epsilon x y z w v"} {
		if err := d.Detect(context.Background(), mk("syslog", "system.syslog", "", msg), func(signal.Signal) {}); err != nil {
			if !errors.Is(err, drain.ErrTooManyClusters) {
				t.Fatalf("unexpected error %v", err)
			}
			errs++
		}
	}
	if d.Templates() != 3 || errs != 2 {
		t.Fatalf("templates %d, errors %d; want 3 and 2", d.Templates(), errs)
	}
	// An overlong message is cut, mined and marked truncated.
	d2, _ := logtemplate.New(logtemplate.Options{WarmUp: 1})
	d2.Detect(context.Background(), mk("syslog", "system.syslog", "", "warm"), func(signal.Signal) {})
	var sigs []signal.Signal
	if err := d2.Detect(context.Background(), mk("syslog", "system.syslog", "", strings.Repeat("long ", 30000)), func(s signal.Signal) { sigs = append(sigs, s) }); err != nil {
		t.Fatal(err)
	}
	if len(sigs) != 1 || sigs[0].Details["truncated"] != true {
		t.Fatalf("long line: %+v", sigs)
	}
	spec, _ := detect.Lookup(logtemplate.Kind)
	for _, cfg := range []map[string]any{{"bogus": 1}, {"warm_up": 0}, {"model": "x"}, {"models": t.TempDir(), "model": "nothere"}, {"rare_share": 2.0}} {
		if _, err := spec.New(detect.Options{Config: cfg}); err == nil {
			t.Errorf("config %v accepted", cfg)
		}
	}
}

// TestLoghubLinux runs the real Loghub Linux lines (syslog) through the
// detector, online and seeded with a template model trained on the first
// 80% of the same system: seeding removes most of the new-template
// signals on the rest, and both runs replay identically.
func TestLoghubLinux(t *testing.T) {
	src := filepath.Join(testutil.SharedData(t, "loghub-2k/Linux"), "Linux_2k.log")
	evs := decode(t, src)
	if len(evs) < 1900 {
		t.Fatalf("decoded %d events", len(evs))
	}
	online := run(t, build(t, map[string]any{"warm_up": 1000}), evs)
	again := run(t, build(t, map[string]any{"warm_up": 1000}), evs)
	if !cmp.Equal(online, again) {
		t.Fatal("replay differs")
	}
	count := func(sigs []signal.Signal, rule string, from int) int {
		n := 0
		for _, s := range sigs {
			if s.RuleID == rule {
				n++
			}
		}
		return n
	}
	newOnline := count(online, logtemplate.RuleNew, 0)
	// Bounded noise: new templates are a small share of post-warm-up lines.
	if newOnline == 0 || newOnline > (len(evs)-1000)/5 {
		t.Fatalf("%d new-template signals on %d post-warm-up lines", newOnline, len(evs)-1000)
	}
	// Seeded with a template model of the same system's log (header
	// learned and removed by the trainer), a replay reports almost no new
	// templates: what the node learned offline it does not alert on.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "train", "Linux"), 0o755)
	data, _ := os.ReadFile(src)
	os.WriteFile(filepath.Join(dir, "train", "Linux", "Linux_2k.log"), data, 0o644)
	a, err := modelreg.Train(context.Background(), modelreg.KindTemplates, modelreg.TrainOptions{Data: filepath.Join(dir, "train"), Name: "linux", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := modelreg.Open(filepath.Join(dir, "models"))
	if _, _, err := reg.Save(a, true); err != nil {
		t.Fatal(err)
	}
	seeded := run(t, build(t, map[string]any{"models": reg.Dir(), "model": "linux", "warm_up": 1000}), evs)
	newSeeded := count(seeded, logtemplate.RuleNew, 0)
	t.Logf("online: %d new, %d rare on %d lines; seeded with %d templates: %d new, %d rare",
		newOnline, count(online, logtemplate.RuleRare, 0), len(evs), int(a.Body.Metrics["templates"]), newSeeded, count(seeded, logtemplate.RuleRare, 0))
	if newSeeded > newOnline/10 {
		t.Fatalf("seeded detector reported %d new templates (online %d)", newSeeded, newOnline)
	}
	for _, s := range seeded {
		if s.RuleVersion != "linux@1" {
			t.Fatalf("rule version %q, want linux@1", s.RuleVersion)
		}
	}
}

// TestSnapshotRestart: stopping half-way, snapshotting and restoring into a
// fresh detector gives the same signals as one uninterrupted run; a
// tampered snapshot is refused and leaves the state unchanged.
func TestSnapshotRestart(t *testing.T) {
	evs := decode(t, filepath.Join("testdata", "syslog.log"))
	cfg := logtemplate.Options{WarmUp: 10, RareCount: 2, RareShare: 0.1}
	whole, _ := logtemplate.New(cfg)
	want := run(t, whole, evs)

	first, _ := logtemplate.New(cfg)
	got := run(t, first, evs[:20])
	var buf strings.Builder
	if err := first.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	second, _ := logtemplate.New(cfg)
	if err := second.Restore(strings.NewReader(buf.String())); err != nil {
		t.Fatal(err)
	}
	got = append(got, run(t, second, evs[20:])...)
	if !cmp.Equal(want, got) {
		t.Fatalf("restart changed the signals:\n%s", cmp.Diff(want, got))
	}
	bad := []byte(buf.String())
	bad[len(bad)/2] ^= 0x01
	third, _ := logtemplate.New(cfg)
	if err := third.Restore(strings.NewReader(string(bad))); err == nil {
		t.Fatal("tampered snapshot accepted")
	}
	if third.Lines() != 0 || third.Templates() != 0 {
		t.Fatalf("refused restore changed state: %d lines, %d templates", third.Lines(), third.Templates())
	}
}

// TestExcludeFromLearning: lines the engine keeps out of learning (data
// whose purpose does not allow training) are still scored, but they make
// no template and count toward no line total, so the same kind of line
// stays new at every occurrence.
func TestExcludeFromLearning(t *testing.T) {
	evs := decode(t, filepath.Join("testdata", "syslog.log"))
	usb := func(ev *event.Event) bool {
		msg, _ := ev.GetString("message")
		return strings.Contains(strings.ToLower(msg), "usb")
	}
	excluded := 0
	for _, ev := range evs {
		if usb(ev) {
			excluded++
		}
	}
	cfg := map[string]any{"warm_up": 25, "rare_count": 2, "rare_share": 0.1}
	spec, _ := detect.Lookup(logtemplate.Kind)
	d, err := spec.New(detect.Options{Config: cfg, ExcludeFromLearning: usb})
	if err != nil {
		t.Fatal(err)
	}
	full := build(t, cfg)
	run(t, full, evs)
	sigs := run(t, d, evs)
	lt, ft := d.(*logtemplate.Detector), full.(*logtemplate.Detector)
	if excluded == 0 || lt.Lines() != ft.Lines()-excluded {
		t.Errorf("lines mined %d, want %d (all %d but the %d excluded)", lt.Lines(), ft.Lines()-excluded, ft.Lines(), excluded)
	}
	if lt.Templates() >= ft.Templates() {
		t.Errorf("%d templates with USB lines excluded, %d with them: excluded lines made templates", lt.Templates(), ft.Templates())
	}
	newUSB := 0
	for _, s := range sigs {
		if tpl := s.Details["template"].(string); strings.Contains(tpl, "USB device number") {
			if s.RuleID != logtemplate.RuleNew {
				t.Errorf("excluded USB line reported as %s; never learned, it stays new", s.RuleID)
			}
			newUSB++
		}
	}
	if newUSB != 2 {
		t.Errorf("%d new-template signals for the two USB attaches, want 2 (scored though not learned)", newUSB)
	}
}
