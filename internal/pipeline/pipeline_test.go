package pipeline_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	_ "github.com/rampart-ids/rampart/internal/format/all"
	"github.com/rampart-ids/rampart/internal/ingest"
	"github.com/rampart-ids/rampart/internal/pipeline"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
)

// userDetector raises one signal per event that has user.name, and can be
// made to block (to fill the queue).
type userDetector struct{ gate chan struct{} }

func (d *userDetector) Name() string { return "test" }

func (d *userDetector) Detect(_ context.Context, ev *event.Event, emit detect.Emit) error {
	if d.gate != nil {
		<-d.gate
	}
	u, ok := ev.GetString("user.name")
	if !ok {
		return nil
	}
	emit(signal.Signal{
		ID: signal.DeriveID("test", "r1", ev.ID), Detector: "test", Layer: signal.LayerRules, RuleID: "r1",
		Title: "user seen", Level: signal.LevelMedium, Entities: []signal.Entity{{Kind: "user", Value: u}},
		Time: ev.Time, EventIDs: []string{ev.ID},
	})
	return nil
}

func openStore(t testing.TB) store.Store {
	st, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestRecordsAccountedAndCommittedAfterStore(t *testing.T) {
	st := openStore(t)
	reg := prometheus.NewRegistry()
	p, err := pipeline.New(pipeline.Options{Engine: detect.NewEngine(&userDetector{}), Store: st, FlushInterval: 10 * time.Millisecond, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	var commits atomic.Int64
	rec := func(pos, data, format string) ingest.Record {
		return ingest.Record{Source: "test", Position: pos, Data: []byte(data), Format: format, Commit: func() { commits.Add(1) }}
	}
	recs := []ingest.Record{
		rec("1", `{"@timestamp":"2026-11-20T10:00:00Z","user":{"name":"alice"},"event":{"dataset":"x"}}`, ""),
		rec("2", `{"@timestamp":"2026-11-20T10:00:01Z","user":{"name":"alice"},"event":{"dataset":"x"}}`, ""),
		rec("3", `{"not json`, ingest.FormatInvalidJSON),
		rec("4", "xxxx", ingest.FormatOversize),
		rec("5", `{"@timestamp":"2026-11-20T10:00:02Z","user":{"name":"bob"},"event":{"dataset":"x"}}`, "no-such-format"),
	}
	ctx := context.Background()
	if err := p.Submit(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := commits.Load(); got != int64(len(recs)) {
		t.Errorf("commits = %d, want %d (every record, after it was stored or quarantined)", got, len(recs))
	}
	if got := counterValue(t, reg, "rampart_records_done_total"); got != float64(len(recs)) {
		t.Errorf("rampart_records_done_total = %v, want %d", got, len(recs))
	}
	counts, err := st.CountQuarantine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"invalid_json": 1, "too_large": 1, "unknown_format": 1}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("quarantine[%s] = %d, want %d (all: %v)", k, counts[k], v, counts)
		}
	}
	page, err := st.ListAlerts(ctx, store.AlertQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Alerts) != 1 || page.Alerts[0].Count != 2 {
		t.Fatalf("alerts = %+v, want one alert for alice with count 2", page.Alerts)
	}
	evs, err := st.GetEvents(ctx, page.Alerts[0].EventIDs)
	if err != nil || len(evs) != 2 {
		t.Fatalf("evidence events: %d, %v", len(evs), err)
	}
	if err := p.Submit(ctx, recs[:1]); !errors.Is(err, pipeline.ErrClosed) {
		t.Errorf("Submit after Close: %v, want ErrClosed", err)
	}
}

func TestBackpressureBoundsTheQueue(t *testing.T) {
	st := openStore(t)
	gate := make(chan struct{})
	p, err := pipeline.New(pipeline.Options{Engine: detect.NewEngine(&userDetector{gate: gate}), Store: st, QueueSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	r := ingest.Record{Source: "bp", Data: []byte(`{"user":{"name":"x"},"event":{"dataset":"x"}}`)}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	submitted := 0
	var err2 error
	for i := 0; i < 100; i++ {
		if err2 = p.Submit(ctx, []ingest.Record{r}); err2 != nil {
			break
		}
		submitted++
	}
	if !errors.Is(err2, context.DeadlineExceeded) {
		t.Fatalf("Submit never blocked: %d submitted, err %v", submitted, err2)
	}
	// Queue (4) plus the one record held by the blocked detector, at most.
	if submitted > 5 {
		t.Errorf("submitted %d records into a queue of 4", submitted)
	}
	close(gate)
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// counterValue reads one unlabelled counter from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}
