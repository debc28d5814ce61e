package sigma

import (
	"context"
	"os"
	"strings"
	"testing"

	sigmago "github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator"

	"github.com/rampart-ids/rampart/internal/event"
)

// sampleEvents takes every 10th event so the (slow) reference finishes quickly.
func sampleEvents(evs []*event.Event) []*event.Event {
	var out []*event.Event
	for i := 0; i < len(evs); i += 10 {
		out = append(out, evs[i])
	}
	return out
}

// sigmaNames flattens an event to the Sigma field names sigma-go looks up.
func sigmaNames(ev *event.Event) map[string]any {
	m := map[string]any{}
	for k, v := range ev.Fields {
		switch {
		case strings.HasPrefix(k, "winlog.event_data."):
			m[strings.TrimPrefix(k, "winlog.event_data.")] = event.ValueString(v)
		case strings.HasPrefix(k, "winlog.user_data."):
			m[strings.TrimPrefix(k, "winlog.user_data.")] = event.ValueString(v)
		}
	}
	for sig, keys := range windowsSystem {
		if v, ok := ev.Fields[keys[0]]; ok {
			m[sig] = event.ValueString(v)
		}
	}
	return m
}

// BenchmarkSigmaGoReference runs bradleyjkemp/sigma-go v0.6.6 (the rules it
// can parse) over the event sample; compare with BenchmarkWindowsRulesSample.
func BenchmarkSigmaGoReference(b *testing.B) {
	evs := sampleEvents(loadWindowsEvents(b))
	files, err := RuleFiles(sigmaHQWindowsPaths(b))
	if err != nil {
		b.Fatal(err)
	}
	var rules []sigmago.Rule
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		r, err := sigmago.ParseRule(data)
		if err != nil {
			continue
		}
		rules = append(rules, r)
	}
	bundle := evaluator.ForRules(rules)
	maps := make([]map[string]any, len(evs))
	for i, ev := range evs {
		maps[i] = sigmaNames(ev)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	passes := 0
	for b.Loop() {
		for _, m := range maps {
			_, _ = bundle.Matches(ctx, m)
		}
		passes++
	}
	b.ReportMetric(float64(passes*len(evs))/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(passes*len(evs))/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
	b.ReportMetric(float64(len(rules)), "rules")
}

// BenchmarkWindowsRulesSample is BenchmarkWindowsRules on the same sample as the reference.
func BenchmarkWindowsRulesSample(b *testing.B) {
	evs := sampleEvents(loadWindowsEvents(b))
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
