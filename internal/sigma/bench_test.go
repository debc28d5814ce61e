package sigma

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	_ "github.com/rampart-ids/rampart/internal/format/all"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// loadWindowsEvents decodes every windows-evtx JSONL event into memory.
func loadWindowsEvents(tb testing.TB) []*event.Event {
	tb.Helper()
	dir := testutil.SharedData(tb, "windows-evtx/jsonl")
	var out []*event.Event
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".jsonl" {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		dec := format.NewDecoder(f, "file:"+p, format.DecoderOptions{})
		for {
			ev := event.New()
			err := dec.Next(ev)
			if errors.Is(err, io.EOF) {
				return nil
			}
			var re *format.RecordError
			if errors.As(err, &re) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, ev)
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func sigmaHQWindowsPaths(tb testing.TB) []string {
	root := testutil.SharedData(tb, "sigma")
	return []string{filepath.Join(root, "rules", "windows"), filepath.Join(root, "rules-emerging-threats"), filepath.Join(root, "rules-threat-hunting", "windows")}
}

// BenchmarkWindowsRules runs all SigmaHQ Windows rules over the
// windows-evtx JSONL events (one op = one pass over every event, so the
// mix of event types is the corpus's).
func BenchmarkWindowsRules(b *testing.B) {
	evs := loadWindowsEvents(b)
	d, err := New(Options{Paths: sigmaHQWindowsPaths(b)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	n := 0
	emit := func(signal.Signal) { n++ }
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	passes := 0
	for b.Loop() {
		for _, ev := range evs {
			_ = d.Detect(ctx, ev, emit)
		}
		passes++
	}
	b.ReportMetric(float64(passes*len(evs))/b.Elapsed().Seconds(), "events/s")
	// The machine is shared: events per CPU-second of this process is the per-core figure.
	b.ReportMetric(float64(passes*len(evs))/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
	b.ReportMetric(float64(d.Rules()), "rules")
	b.ReportMetric(float64(n)/float64(passes), "signals/pass")
}

// BenchmarkWindowsMatchOnly is BenchmarkWindowsRules without building signals.
func BenchmarkWindowsMatchOnly(b *testing.B) {
	evs := loadWindowsEvents(b)
	d, err := New(Options{Paths: sigmaHQWindowsPaths(b)})
	if err != nil {
		b.Fatal(err)
	}
	rs := d.set.Load()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	passes := 0
	for b.Loop() {
		for _, ev := range evs {
			rs.run(ev, func(*evalCtx, *crule) {})
		}
		passes++
	}
	b.ReportMetric(float64(passes*len(evs))/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(passes*len(evs))/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAutomatonCommandLine scans every corpus command line with the
// CommandLine slot's literals (thousands, from all SigmaHQ Windows rules):
// dense rows for the shallow states only (the default) against dense rows
// for every state (the whole DFA as one table).
func BenchmarkAutomatonCommandLine(b *testing.B) {
	evs := loadWindowsEvents(b)
	d, err := New(Options{Paths: sigmaHQWindowsPaths(b)})
	if err != nil {
		b.Fatal(err)
	}
	rs := d.set.Load()
	var texts []string
	for _, ev := range evs {
		if s, ok := ev.Fields["winlog.event_data.CommandLine"].(string); ok && isASCII(s) {
			texts = append(texts, s)
		}
	}
	slot := rs.slotOf(resolveField(Logsource{Product: "windows", Category: "process_creation"}, "CommandLine"))
	m := rs.ac[slot]
	if m == nil || len(texts) == 0 {
		b.Skip("no CommandLine automaton or values")
	}
	pats := m.pats
	for _, tc := range []struct {
		name  string
		dense int
	}{{"shallow-dense", acDenseCells}, {"all-dense", maxACCells}} {
		b.Run(tc.name, func(b *testing.B) {
			a := buildACDense(pats, 0, tc.dense)
			c := newEvalCtx(&ruleSet{natoms: len(pats), needOff: make([]uint32, len(pats)+1)})
			b.ResetTimer()
			n := 0
			for b.Loop() {
				for _, s := range texts {
					c.reset(nil)
					a.scan(c, s)
				}
				n += len(texts)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "values/s")
			b.ReportMetric(float64(len(a.dense)*4+len(a.edges)*8+len(a.edgeOff)*4+len(a.fail)*4)/1e6, "table-MB")
		})
	}
}
