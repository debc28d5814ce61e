package flowscan_test

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/detect/anomaly"
	"github.com/rampart-ids/rampart/internal/detect/flowscan"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// conn builds a Zeek conn event: answered (SF, data both ways) or a
// half-open attempt (S0).
func conn(i int, at time.Time, src, dst string, port int64, answered bool) *event.Event {
	ev := event.New()
	ev.ID = fmt.Sprintf("e%d", i)
	ev.Time = at
	ev.Set("event.dataset", "zeek.conn")
	ev.Set("source.ip", src)
	ev.Set("destination.ip", dst)
	ev.Set("destination.port", port)
	ev.Set("network.transport", "tcp")
	if answered {
		ev.Set("zeek.conn_state", "SF")
		ev.Set("zeek.history", "ShADadFf")
		ev.Set("zeek.duration", 1.5+float64(i%7)/10)
		ev.Set("zeek.orig_bytes", int64(300+i%50))
		ev.Set("zeek.resp_bytes", int64(4000+i%900))
		ev.Set("zeek.orig_pkts", int64(8))
		ev.Set("zeek.resp_pkts", int64(9))
	} else {
		ev.Set("zeek.conn_state", "S0")
		ev.Set("zeek.history", "S")
		ev.Set("zeek.orig_pkts", int64(1))
	}
	return ev
}

// stream: three quiet windows of clients answered by servers, then one
// window where 10.0.0.66 probes 200 ports of 10.0.1.5.
func stream() []*event.Event {
	var evs []*event.Event
	i := 0
	for w := 0; w < 3; w++ {
		for k := 0; k < 300; k++ {
			at := t0.Add(time.Duration(w)*10*time.Minute + time.Duration(k)*time.Second)
			evs = append(evs, conn(i, at, fmt.Sprintf("10.0.0.%d", 1+k%20), fmt.Sprintf("10.0.1.%d", 1+k%5), []int64{443, 80, 53}[k%3], true))
			i++
		}
	}
	for k := 0; k < 300; k++ {
		at := t0.Add(30*time.Minute + time.Duration(k)*time.Second)
		if k%3 == 0 {
			evs = append(evs, conn(i, at, "10.0.0.66", "10.0.1.5", int64(1000+k), false))
		} else {
			evs = append(evs, conn(i, at, fmt.Sprintf("10.0.0.%d", 1+k%20), fmt.Sprintf("10.0.1.%d", 1+k%5), 443, true))
		}
		i++
	}
	return evs
}

func run(d *flowscan.Detector, evs []*event.Event) []signal.Signal {
	var out []signal.Signal
	emit := func(s signal.Signal) { out = append(out, s) }
	for _, ev := range evs {
		_ = d.Detect(context.Background(), ev, emit)
	}
	d.Flush(context.Background(), emit)
	return out
}

func TestScanWindow(t *testing.T) {
	cfg := flowscan.Config{MinReference: 500}
	sigs := run(flowscan.New(cfg, nil), stream())
	if len(sigs) != 1 || sigs[0].Entities[0].Value != "10.0.0.66" {
		t.Fatalf("got %d signals %+v, want one for the prober 10.0.0.66", len(sigs), sigs)
	}
	s := sigs[0]
	if s.Detector != flowscan.Kind || s.Layer != signal.LayerML || s.Explanation == "" || s.Details["flows_above"].(int) < 10 ||
		s.ID != signal.DeriveID(flowscan.Kind, flowscan.RuleID, s.EventIDs...) || !s.Time.After(t0.Add(30*time.Minute)) {
		t.Errorf("signal %+v", s)
	}
	if !strings.Contains(s.Explanation, "half-open") {
		t.Errorf("explanation %q does not say why", s.Explanation)
	}
	// Deterministic: a second detector over the same events says the same.
	if again := run(flowscan.New(cfg, nil), stream()); !reflect.DeepEqual(again, sigs) {
		t.Errorf("second run differs")
	}
}

// TestExcludeFromLearning: excluded events are scored but never learned,
// so with every event excluded the reservoir stays empty and nothing fires.
func TestExcludeFromLearning(t *testing.T) {
	d := flowscan.New(flowscan.Config{MinReference: 500}, func(*event.Event) bool { return true })
	if sigs := run(d, stream()); len(sigs) != 0 {
		t.Errorf("%d signals without any learned flow", len(sigs))
	}
	if st := d.Stats(); st.Reference != 0 || st.Excluded != 1200 {
		t.Errorf("stats %+v, want an empty reservoir and 1200 excluded", st)
	}
}

func TestBounds(t *testing.T) {
	d := flowscan.New(flowscan.Config{Reference: 100, MinReference: 50, MaxWindowFlows: 200}, nil)
	run(d, stream())
	st := d.Stats()
	if st.Reference > 100 || st.Dropped != 400 || st.Windows != 4 {
		t.Errorf("stats %+v, want reservoir ≤ 100, 100 flows past the window cap in each of 4 windows", st)
	}
}

func TestConfig(t *testing.T) {
	spec, ok := detect.Lookup(flowscan.Kind)
	if !ok {
		t.Fatal("flowscan not registered")
	}
	if _, err := spec.New(detect.Options{Config: map[string]any{"window": "5m", "budget": 0.02, "min_flows": 5}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []map[string]any{{"budget": 1.5}, {"window": "soon"}, {"trees": 3}, {"min_flows": -1}} {
		if _, err := spec.New(detect.Options{Config: c}); err == nil {
			t.Errorf("config %v accepted", c)
		}
	}
}

// BenchmarkDetect: cost per Zeek conn event of the synthetic stream (three
// quiet windows, one probed), window scoring included.
func BenchmarkDetect(b *testing.B) {
	evs := stream()
	b.ReportAllocs()
	for b.Loop() {
		d := flowscan.New(flowscan.Config{MinReference: 500}, nil)
		run(d, evs)
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
}

// TestSnapshot: a restored detector continues exactly as the original
// would (same reservoir and sampler), and a tampered snapshot is refused.
func TestSnapshot(t *testing.T) {
	var _ anomaly.Snapshotter = (*flowscan.Detector)(nil) // serve saves and restores it
	evs := stream()
	cfg := flowscan.Config{MinReference: 500, Reference: 400}
	whole := run(flowscan.New(cfg, nil), evs)
	if len(whole) == 0 {
		t.Fatal("the uninterrupted run raised nothing: the comparison would be empty")
	}

	a := flowscan.New(cfg, nil)
	cut := 600 // two quiet windows learned, the third open
	var first []signal.Signal
	for _, ev := range evs[:cut+1] { // the flow past the second window closes it
		_ = a.Detect(context.Background(), ev, func(s signal.Signal) { first = append(first, s) })
	}
	var buf bytes.Buffer
	if err := a.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	b := flowscan.New(cfg, nil)
	if err := b.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if b.Stats().Reference != a.Stats().Reference {
		t.Fatalf("restored reservoir %d, want %d", b.Stats().Reference, a.Stats().Reference)
	}
	rest := run(b, evs[cut:])
	if got := append(first, rest...); !reflect.DeepEqual(got, whole) {
		t.Errorf("restored run raised %d signals, uninterrupted %d", len(got), len(whole))
	}

	bad := bytes.Clone(buf.Bytes())
	bad[len(bad)/2] ^= 0x01 // one bit inside the reservoir's payload
	c := flowscan.New(cfg, nil)
	if err := c.Restore(bytes.NewReader(bad)); err == nil || c.Stats().Reference != 0 {
		t.Errorf("tampered snapshot: err %v, reservoir %d", err, c.Stats().Reference)
	}
}
