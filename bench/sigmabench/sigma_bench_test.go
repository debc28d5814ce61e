// Package sigmabench compares Rampart's Sigma layer with
// github.com/bradleyjkemp/sigma-go v0.6.6 on the same events in one run:
// every SigmaHQ Windows rule for Rampart, and the rules sigma-go can load
// and evaluate without error for sigma-go, over the windows-evtx JSONL
// corpus. bench/sigma.sh prints the ratio.
package sigmabench

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sigmago "github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	_ "github.com/rampart-ids/rampart/internal/format/all"
	"github.com/rampart-ids/rampart/internal/format/formattest"
	"github.com/rampart-ids/rampart/internal/sigma"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// corpus is the decoded windows-evtx events; flat, their raw records in
// the layout sigma-go reads, is built only for the runs that compare with
// sigma-go (flatT), so Rampart's benchmark does not carry sigma-go's input
// in its heap (the garbage collector scans every live byte).
type corpus struct {
	events []*event.Event
	flat   []map[string]any
}

var (
	loadOnce, flatOnce sync.Once
	loaded             corpus
)

func load(b *testing.B) corpus { return loadT(b) }

func loadT(b testing.TB) corpus {
	dir := testutil.SharedData(b, "windows-evtx/jsonl")
	loadOnce.Do(func() {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".jsonl") {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			evs, _ := formattest.Events(b, strings.NewReader(string(data)), p, format.DecoderOptions{})
			loaded.events = append(loaded.events, evs...)
			return nil
		})
	})
	if len(loaded.events) == 0 {
		b.Skip("no events decoded from the windows-evtx corpus")
	}
	return loaded
}

// flatT is loadT with flat filled.
func flatT(tb testing.TB) corpus {
	c := loadT(tb)
	flatOnce.Do(func() {
		loaded.flat = make([]map[string]any, len(c.events))
		for i, ev := range c.events {
			loaded.flat[i] = flatten(ev.Raw)
		}
	})
	return loaded
}

// flatten gives sigma-go the event with EventData/UserData fields at top level,
// the layout its field names expect.
func flatten(raw []byte) map[string]any {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return map[string]any{}
	}
	out := map[string]any{}
	for k, v := range m {
		switch k {
		case "EventData":
			if inner, ok := v.(map[string]any); ok {
				for k2, v2 := range inner {
					out[k2] = v2
				}
			}
		case "UserData":
			if inner, ok := v.(map[string]any); ok {
				for _, w := range inner {
					if wm, ok := w.(map[string]any); ok {
						for k2, v2 := range wm {
							out[k2] = v2
						}
					}
				}
			}
		case "Provider":
			out["Provider_Name"] = v
		default:
			out[k] = v
		}
	}
	return out
}

func windowsRules(b *testing.B) string {
	return testutil.SharedData(b, "sigma/rules/windows")
}

func BenchmarkRampart(b *testing.B) {
	c := load(b)
	d, err := sigma.New(sigma.Options{Paths: []string{windowsRules(b)}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	n := 0
	emit := func(signal.Signal) { n++ }
	var det detect.Detector = d
	b.ReportAllocs()
	runtime.GC() // the garbage of loading and compiling is not the benchmark's
	b.ResetTimer()
	cpu0 := cpuTime()
	i := 0
	for b.Loop() {
		_ = det.Detect(ctx, c.events[i%len(c.events)], emit)
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(i)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
	b.ReportMetric(float64(d.Rules()), "rules")
}

func BenchmarkSigmaGo(b *testing.B) {
	c := flatT(b)
	ctx := context.Background()
	var rules []sigmago.Rule
	probe := c.flat[:min(len(c.flat), 200)]
	_ = filepath.WalkDir(windowsRules(b), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yml") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		r, err := sigmago.ParseRule(data)
		if err != nil {
			return nil
		}
		ev := evaluator.ForRule(r)
		for _, e := range probe {
			if _, err := ev.Matches(ctx, e); err != nil {
				return nil // a modifier it cannot evaluate
			}
		}
		rules = append(rules, r)
		return nil
	})
	bundle := evaluator.ForRules(rules)
	b.ReportAllocs()
	runtime.GC() // the garbage of loading and compiling is not the benchmark's
	b.ResetTimer()
	cpu0 := cpuTime()
	i := 0
	for b.Loop() {
		_, _ = bundle.Matches(ctx, c.flat[i%len(c.flat)])
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(i)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
	b.ReportMetric(float64(len(rules)), "rules")
}

// cpuTime is this process's user+system CPU time. The machine is shared:
// events per CPU-second of the benchmark process is the per-core figure
// that other processes disturb least (GOMAXPROCS=1 keeps it one core).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
