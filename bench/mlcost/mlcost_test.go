// Package mlcost measures what the ML layer costs on top of the rule layer
// (issue 3, item 8): the same real events — the windows-evtx JSONL corpus
// and the Loghub OpenSSH and Linux lines, decoded by format.NewDecoder —
// through the rule layer alone (app.BuildEngine with the bundled rules) and
// through the rule layer plus the ML detectors (payload, logtemplate, and
// the anomaly and rarity baselines), in one run. bench/mlcost.sh prints
// events/s per core for both and the overhead.
package mlcost

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/app"
	"github.com/rampart-ids/rampart/internal/detect"
	_ "github.com/rampart-ids/rampart/internal/detect/anomaly"
	"github.com/rampart-ids/rampart/internal/detect/logtemplate"
	"github.com/rampart-ids/rampart/internal/detect/mlmodel"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	_ "github.com/rampart-ids/rampart/internal/format/all"
	"github.com/rampart-ids/rampart/internal/modelreg"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

func TestMain(m *testing.M) {
	// Loading rules logs at info; keep benchmark output parseable.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	code := m.Run()
	if modelDir != "" {
		os.RemoveAll(modelDir)
	}
	os.Exit(code)
}

var (
	loadOnce sync.Once
	events   []*event.Event
	modelDir string
	loadErr  error
)

func decodeFile(path string) ([]*event.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := format.NewDecoder(f, "file:"+path, format.DecoderOptions{})
	var out []*event.Event
	for {
		ev := event.New()
		err := dec.Next(ev)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			continue // quarantined records are not part of the workload
		}
		out = append(out, ev)
	}
}

// load decodes the corpus and trains the payload model into a temporary
// registry, once per process.
func load(tb testing.TB) []*event.Event {
	tb.Helper()
	evtx := testutil.SharedData(tb, "windows-evtx/jsonl")
	loghub := testutil.SharedData(tb, "loghub-2k")
	httpParams := testutil.SharedData(tb, "http-params")
	loadOnce.Do(func() {
		var files []string
		_ = filepath.WalkDir(evtx, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".jsonl") {
				files = append(files, p)
			}
			return nil
		})
		files = append(files, filepath.Join(loghub, "OpenSSH", "OpenSSH_2k.log"), filepath.Join(loghub, "Linux", "Linux_2k.log"))
		for _, p := range files {
			evs, err := decodeFile(p)
			if err != nil {
				loadErr = err
				return
			}
			events = append(events, evs...)
		}
		a, err := modelreg.Train(context.Background(), modelreg.KindPayload, modelreg.TrainOptions{Data: httpParams, Seed: 1})
		if err != nil {
			loadErr = err
			return
		}
		dir, err := os.MkdirTemp("", "rampart-mlcost-")
		if err != nil {
			loadErr = err
			return
		}
		reg, err := modelreg.Open(dir)
		if err == nil {
			_, _, err = reg.Save(a, true)
		}
		modelDir, loadErr = dir, err
	})
	if loadErr != nil {
		tb.Fatal(loadErr)
	}
	if len(events) == 0 {
		tb.Skip("no events decoded")
	}
	return events
}

// mlDetectors builds fresh ML detectors (their state starts empty each
// pass). MLCOST_DETECTORS (comma-separated kinds) selects a subset.
func mlDetectors(tb testing.TB) []detect.Detector {
	tb.Helper()
	var out []detect.Detector
	for _, k := range []struct {
		kind string
		cfg  map[string]any
	}{
		{mlmodel.KindPayload, map[string]any{"models": modelDir}},
		{logtemplate.Kind, nil},
		{"anomaly", nil},
		{"rarity", nil},
	} {
		if only := os.Getenv("MLCOST_DETECTORS"); only != "" && !strings.Contains(","+only+",", ","+k.kind+",") {
			continue
		}
		spec, ok := detect.Lookup(k.kind)
		if !ok {
			tb.Logf("detector %s not built in; measured without it", k.kind)
			continue
		}
		d, err := spec.New(detect.Options{Config: k.cfg})
		if err != nil {
			tb.Fatalf("building %s: %v", k.kind, err)
		}
		out = append(out, d)
	}
	return out
}

// pass runs every event through eng once and returns the signal count.
func pass(eng *detect.Engine, evs []*event.Event) int {
	n := 0
	emit := func(signal.Signal) { n++ }
	ctx := context.Background()
	for _, ev := range evs {
		eng.Process(ctx, ev, emit)
	}
	eng.Flush(ctx, emit)
	return n
}

// BenchmarkStack: one op is one pass over the corpus through the rule
// layer alone and one pass through rules + ML, alternated so both see the
// same machine load (the machine is shared). The rule detectors are built
// once and shared by both engines; ML detectors are rebuilt (untimed)
// before each pass so every pass starts from an empty baseline, as a
// fresh node. Reported: events/s of each and the overhead in percent.
func BenchmarkStack(b *testing.B) {
	evs := load(b)
	ctx := context.Background()
	rules, cleanup, err := app.BuildDetectors(ctx, app.RuleSet{})
	if err != nil {
		b.Fatal(err)
	}
	defer cleanup()
	// Time is the process's CPU time (user+sys, GC included), not wall
	// time: on a shared machine wall time mostly measures the neighbours.
	// Events per CPU-second is events/s per core. The cheapest pass of each
	// variant is kept (the one least disturbed by cache and scheduler noise).
	tRules, tFull := time.Duration(1<<62), time.Duration(1<<62)
	var sRules, sFull int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		eng := detect.NewEngine(rules...)
		full := detect.NewEngine(append(append([]detect.Detector(nil), rules...), mlDetectors(b)...)...)
		runtime.GC()
		b.StartTimer()
		start := cpuTime()
		sRules = pass(eng, evs)
		mid := cpuTime()
		sFull = pass(full, evs)
		tRules = min(tRules, mid-start)
		tFull = min(tFull, cpuTime()-mid)
	}
	n := float64(len(evs))
	b.ReportMetric(n/tRules.Seconds(), "rules_events/s")
	b.ReportMetric(n/tFull.Seconds(), "full_events/s")
	b.ReportMetric(100*(tFull.Seconds()/tRules.Seconds()-1), "overhead_%")
	b.ReportMetric(float64(sFull-sRules), "ml_signals/pass")
	b.ReportMetric(0, "ns/op")
}

// cpuTime is the process's user+sys CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// noop measures the engine's own per-detector cost.
type noop struct{}

func (noop) Name() string                                            { return "noop" }
func (noop) Detect(context.Context, *event.Event, detect.Emit) error { return nil }

// TestStackSmoke checks the full stack runs on a slice of the corpus and
// that the ML detectors contribute signals of layer ml with scores in [0,1].
func TestStackSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the corpus")
	}
	evs := load(t)
	ctx := context.Background()
	rules, cleanup, err := app.BuildDetectors(ctx, app.RuleSet{})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	eng := detect.NewEngine(append(rules, mlDetectors(t)...)...)
	byDetector := map[string]int{}
	for _, ev := range evs {
		eng.Process(ctx, ev, func(s signal.Signal) {
			byDetector[s.Detector]++
			if s.Layer == signal.LayerML && (s.Score < 0 || s.Score > 1 || s.Explanation == "") {
				t.Errorf("bad ML signal %+v", s)
			}
		})
	}
	t.Logf("%d events, signals by detector: %v, detect errors: %v", len(evs), byDetector, eng.Errors())
	if byDetector["logtemplate"] == 0 || byDetector["sigma"] == 0 {
		t.Fatalf("expected sigma and logtemplate signals: %v", byDetector)
	}
}

// BenchmarkMLDetector times each ML detector alone over the corpus (events/s),
// to see where the ML layer's cost goes.
func BenchmarkMLDetector(b *testing.B) {
	evs := load(b)
	for _, d := range append(mlDetectors(b), noop{}) {
		kind := d.Name()
		b.Run(kind, func(b *testing.B) {
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				var fresh detect.Detector = noop{}
				for _, x := range mlDetectors(b) {
					if x.Name() == kind {
						fresh = x
					}
				}
				eng := detect.NewEngine(fresh)
				b.StartTimer()
				start := cpuTime()
				pass(eng, evs)
				elapsed += cpuTime() - start
			}
			b.ReportMetric(float64(len(evs)*b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
