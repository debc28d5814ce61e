package silence

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/ingest"
	"github.com/rampart-ids/rampart/internal/signal"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }

func titles(sigs []signal.Signal) []string {
	var out []string
	for _, s := range sigs {
		out = append(out, s.Title)
	}
	return out
}

func TestMonitor(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	m := NewMonitor([]Expectation{
		{Name: "auth", Every: 5 * time.Minute},
		{Name: "fw", Every: time.Minute, After: 2 * time.Minute},
		{Name: "ignored", Every: 0},
	}, c.now)

	steps := []struct {
		advance time.Duration
		seen    []string
		want    []string
		silent  []string
	}{
		{advance: time.Minute, seen: []string{"fw"}},
		{advance: 2 * time.Minute, want: []string{"Input fw silent for 2m (expected every 1m)"}, silent: []string{"fw"}},
		{advance: time.Minute, silent: []string{"fw"}}, // once per episode
		{advance: 11 * time.Minute, want: []string{"Input auth silent for 15m (expected every 5m)"}, silent: []string{"auth", "fw"}},
		{advance: time.Minute, seen: []string{"fw", "unknown"}, silent: []string{"auth"}}, // fw clears
		{advance: 2 * time.Minute, want: []string{"Input fw silent for 2m (expected every 1m)"}, silent: []string{"auth", "fw"}},
		{advance: 0, seen: []string{"auth", "fw"}},
		{advance: 2*time.Hour + 30*time.Minute, want: []string{"Input auth silent for 2h30m (expected every 5m)", "Input fw silent for 2h30m (expected every 1m)"}, silent: []string{"auth", "fw"}},
	}
	ids := map[string]bool{}
	for i, st := range steps {
		c.add(st.advance)
		for _, n := range st.seen {
			m.Seen(n)
		}
		sigs := m.Check()
		if diff := cmp.Diff(st.want, titles(sigs)); diff != "" {
			t.Errorf("step %d signals (-want +got):\n%s", i, diff)
		}
		if diff := cmp.Diff(st.silent, m.Silent()); diff != "" {
			t.Errorf("step %d silent (-want +got):\n%s", i, diff)
		}
		for _, s := range sigs {
			if s.Detector != "input_health" || s.Layer != signal.LayerHealth || s.Level != signal.LevelMedium ||
				s.RuleID != "input-silent:"+s.Details["input"].(string) || !s.Time.Equal(c.t) || s.Explanation == "" {
				t.Errorf("step %d: bad signal %+v", i, s)
			}
			if ids[s.ID] {
				t.Errorf("step %d: signal id %s reused across episodes", i, s.ID)
			}
			ids[s.ID] = true
		}
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		15 * time.Minute: "15m", 2 * time.Hour: "2h", 90 * time.Minute: "1h30m",
		45 * time.Second: "45s", 15*time.Minute + 59*time.Second: "15m", 500 * time.Millisecond: "500ms",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
	}
}

type nopSink struct{}

func (nopSink) Submit(context.Context, []ingest.Record) error { return nil }

func TestWrapSink(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	m := NewMonitor([]Expectation{{Name: "syslog", Every: time.Minute}}, c.now)
	s := m.WrapSink("syslog", nopSink{})
	c.add(3 * time.Minute)
	if err := s.Submit(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got := len(m.Check()); got != 1 {
		t.Fatalf("empty batch counted as delivery: %d signals, want 1", got)
	}
	if err := s.Submit(context.Background(), []ingest.Record{{Data: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	if got := m.Silent(); len(got) != 0 {
		t.Errorf("still silent after a delivery: %v", got)
	}
}
