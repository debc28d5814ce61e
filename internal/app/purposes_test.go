package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-ids/rampart/internal/config"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/ingest"
	"github.com/rampart-ids/rampart/internal/pipeline"
	"github.com/rampart-ids/rampart/internal/retention/purpose"
	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
)

// TestPurposeKeepsInputOutOfBaseline runs live records through the serve
// wiring (purpose-tagging sinks, the pipeline, the engine with the learning
// gate, a real SQLite store). Day 0 user alice logs 2 events per 10-minute
// window through input file:auth (purposes "*"); days 1 and 2 she logs 30
// per window through input file:hr. When file:hr's purposes deny training
// (or no rule tags it), day 1 is not learned and every day-2 window raises
// a baseline alert; when they allow it (the control), day 1 becomes her
// normal and day 2 raises next to nothing. Stored events keep the tags the
// config gave their input, whatever the record itself claimed.
func TestPurposeKeepsInputOutOfBaseline(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	const win = 10 * time.Minute
	run := func(t *testing.T, hrTags []string) (day2 int, x *LearningExclusions, st *sqlite.Store, hrID string) {
		rules := purpose.Rules{{Source: "file:auth", Tags: []string{purpose.Any}}}
		if hrTags != nil {
			rules = append(rules, purpose.Rule{Source: "/var/log/hr/*.log", Tags: hrTags})
		}
		if err := rules.Validate(); err != nil {
			t.Fatal(err)
		}
		st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		x = NewLearningExclusions(nil)
		eng, cleanup, err := BuildEngine(ctx, RuleSet{Exclusions: x, Purposes: rules})
		if err != nil {
			t.Fatal(err)
		}
		defer cleanup()
		pipe, err := pipeline.New(pipeline.Options{Engine: eng, Store: st, StoreAllEvents: true,
			ThrottleWindow: win, Registerer: prometheus.NewRegistry()})
		if err != nil {
			t.Fatal(err)
		}
		auth := withPurposes("file:auth", rules, pipe)
		hr := withPurposes("file:hr", rules, pipe)
		n := 0
		feed := func(sink ingest.Sink, source string, w int, user string, k int) {
			recs := make([]ingest.Record, 0, k)
			for i := 0; i < k; i++ {
				n++
				ts := t0.Add(time.Duration(w)*win + time.Duration(i)*time.Second).Format(time.RFC3339)
				// A record claiming its own purposes gets the config's.
				line := fmt.Sprintf(`{"@timestamp":%q,"event":{"module":"app","dataset":"app.session"},"user":{"name":%q},"host":{"name":"ws-%s"},"message":"session","rampart":{"purpose":["training"]}}`, ts, user, user)
				recs = append(recs, ingest.Record{Source: source, Position: strconv.Itoa(n), Data: []byte(line), Received: t0})
				if sink == hr && hrID == "" {
					hrID = event.DeriveID(source, strconv.Itoa(n), []byte(line))
				}
			}
			if err := sink.Submit(ctx, recs); err != nil {
				t.Fatal(err)
			}
		}
		for w := 0; w < 3*144; w++ {
			if w < 144 {
				feed(auth, "file:/var/log/auth.log", w, "alice", 2)
			} else {
				feed(hr, "file:/var/log/hr/app.log", w, "alice", 30)
			}
			feed(auth, "file:/var/log/auth.log", w, "bob", 2)
		}
		if err := pipe.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if s := pipe.Stats(); s.Quarantined != 0 || s.Events != uint64(n) {
			t.Fatalf("pipeline %+v; want all %d records as events", s, n)
		}
		q := store.AlertQuery{RuleID: "baseline-user", Entity: "alice", Since: t0.Add(48 * time.Hour), Limit: 1000}
		page, err := st.ListAlerts(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Alerts), x, st, hrID
	}
	tagsOf := func(t *testing.T, st *sqlite.Store, id string) []string {
		t.Helper()
		evs, err := st.GetEvents(ctx, []string{id})
		if err != nil || len(evs) != 1 {
			t.Fatalf("stored event %s: %v (%d found)", id, err, len(evs))
		}
		return purpose.Of(evs[0])
	}
	const hrEvents = 30 * 288

	for _, tc := range []struct {
		name   string
		hrTags []string
	}{
		{"denied", []string{purpose.Detection, purpose.Investigation}},
		{"untagged", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			day2, x, st, hrID := run(t, tc.hrTags)
			t.Logf("alice raised %d day-2 baseline alerts; %d events kept out by purpose", day2, x.Excluded(ExcludePurpose))
			if got := x.Excluded(ExcludePurpose); got != hrEvents {
				t.Errorf("%d events excluded by purpose, want the %d file:hr events", got, hrEvents)
			}
			if day2 < 140 {
				t.Errorf("alice raised %d of 144 day-2 alerts: the file:hr burst moved her baseline", day2)
			}
			if got := excludedMetric(t, x, ExcludePurpose); got != hrEvents {
				t.Errorf("/metrics rampart_ml_learning_excluded_events_total{reason=purpose} = %v, want %d", got, hrEvents)
			}
			if got := tagsOf(t, st, hrID); !slices.Equal(got, tc.hrTags) {
				t.Errorf("stored file:hr event has purposes %q, want %q (the config's, not the record's)", got, tc.hrTags)
			}
		})
	}
	t.Run("allowed control", func(t *testing.T) {
		tags := []string{purpose.Detection, purpose.Training}
		day2, x, st, hrID := run(t, tags)
		t.Logf("alice raised %d day-2 baseline alerts", day2)
		if x.Excluded(ExcludePurpose) != 0 {
			t.Errorf("%d events excluded by purpose, want none", x.Excluded(ExcludePurpose))
		}
		if day2 > 5 {
			t.Errorf("alice raised %d day-2 alerts, want her day-1 level learned", day2)
		}
		if got := tagsOf(t, st, hrID); !slices.Equal(got, tags) {
			t.Errorf("stored file:hr event has purposes %q, want %q", got, tags)
		}
	})
}

// TestNoPurposeRulesLearnAsBefore: without purpose rules nothing is tagged
// (a record's own claim is dropped) and untagged events are learned.
func TestNoPurposeRulesLearnAsBefore(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	x := NewLearningExclusions(nil)
	eng, cleanup, err := BuildEngine(ctx, RuleSet{Exclusions: x})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	pipe, err := pipeline.New(pipeline.Options{Engine: eng, Store: st, StoreAllEvents: true, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	sink := withPurposes("http", nil, pipe)
	if sink != ingest.Sink(pipe) {
		t.Error("withPurposes without rules wrapped the sink")
	}
	line := []byte(`{"@timestamp":"2026-03-02T10:00:00Z","event":{"dataset":"app.session"},"user":{"name":"carol"},"message":"x","rampart":{"purpose":["training"]}}`)
	if err := sink.Submit(ctx, []ingest.Record{{Source: "http", Position: "1", Data: line}}); err != nil {
		t.Fatal(err)
	}
	if err := pipe.Close(ctx); err != nil {
		t.Fatal(err)
	}
	evs, err := st.GetEvents(ctx, []string{event.DeriveID("http", "1", line)})
	if err != nil || len(evs) != 1 {
		t.Fatalf("stored event: %v (%d)", err, len(evs))
	}
	if tags := purpose.Of(evs[0]); tags != nil {
		t.Errorf("untagged input stored purposes %q (from the record itself)", tags)
	}
	if x.Excluded(ExcludePurpose) != 0 {
		t.Errorf("%d events excluded by purpose without purpose rules", x.Excluded(ExcludePurpose))
	}
}

// excludedMetric reads x's excluded-events counter for reason as /metrics shows it.
func excludedMetric(t *testing.T, x *LearningExclusions, reason string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(x.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "rampart_ml_learning_excluded_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no excluded-events metric for reason %s", reason)
	return 0
}

// TestServePurposes runs a node whose purpose rules let file:auth data be
// trained on but HTTP-ingested data only be used for detection: the
// HTTP events (one of which claims "training" itself) are kept out of
// learning and counted in /metrics, the file's are not, and both are
// stored with their input's tags.
func TestServePurposes(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "auth.log")
	var fileLines []string
	for i := range 3 {
		fileLines = append(fileLines, fmt.Sprintf(`{"@timestamp":"2026-11-20T10:00:%02dZ","event":{"dataset":"app.session"},"user":{"name":"dave"},"message":"file %d"}`, i, i))
	}
	if err := os.WriteFile(logPath, []byte(strings.Join(fileLines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.HTTP.IngestRate = 0
	cfg.Files = []config.FileInput{{Name: "auth", Paths: []string{logPath}}}
	cfg.Privacy.Purposes = purpose.Rules{
		{Source: "http", Tags: []string{purpose.Detection}},
		{Source: "*.log", Tags: []string{purpose.Any}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, token, done := startNode(t, ctx, cfg, ServeOptions{})
	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	httpLines := []string{
		`{"@timestamp":"2026-11-20T10:01:00Z","event":{"dataset":"app.session"},"user":{"name":"erin"},"message":"http 0"}`,
		`{"@timestamp":"2026-11-20T10:01:01Z","event":{"dataset":"app.session"},"user":{"name":"erin"},"message":"http 1","rampart":{"purpose":["training"]}}`,
	}
	httpBody := strings.Join(httpLines, "\n") + "\n"
	if code, body := call("POST", "/api/v1/events", httpBody); code != 202 {
		t.Fatalf("ingest: %d %s", code, body)
	}
	metric := func(name string) float64 {
		_, body := call("GET", "/metrics", "")
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(body)
		if m == nil {
			return -1
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	waitFor(t, func() bool { return metric("rampart_records_done_total") == 5 })
	if got := metric(`rampart_ml_learning_excluded_events_total{reason="purpose"}`); got != 2 {
		t.Errorf("events kept out of learning by purpose = %v, want the 2 HTTP events", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not shut down")
	}
	st, err := sqlite.Open(context.Background(), cfg.DataDir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sum := sha256.Sum256([]byte(httpBody))
	for i, l := range httpLines {
		id := event.DeriveID("http", hex.EncodeToString(sum[:8])+":"+strconv.Itoa(i+1), []byte(l))
		evs, err := st.GetEvents(context.Background(), []string{id})
		if err != nil || len(evs) != 1 {
			t.Fatalf("stored HTTP event %d: %v (%d found)", i, err, len(evs))
		}
		if got := purpose.Of(evs[0]); !slices.Equal(got, []string{purpose.Detection}) {
			t.Errorf("stored HTTP event %d has purposes %q, want [detection] (the config's)", i, got)
		}
	}
	abs, _ := filepath.Abs(logPath)
	off := 0
	for _, l := range fileLines {
		id := event.DeriveID("file:"+abs, strconv.Itoa(off), []byte(l))
		off += len(l) + 1
		evs, err := st.GetEvents(context.Background(), []string{id})
		if err != nil || len(evs) != 1 {
			t.Fatalf("stored file event: %v (%d found)", err, len(evs))
		}
		if got := purpose.Of(evs[0]); !slices.Equal(got, []string{purpose.Any}) {
			t.Errorf("stored file event has purposes %q, want [*]", got)
		}
	}
}

type discardSink struct{}

func (discardSink) Submit(context.Context, []ingest.Record) error { return nil }

// BenchmarkPurposeSink is the tagging cost per record of a batch of 256
// file records from two files under five rules: a cache hit per source
// change, no allocation.
func BenchmarkPurposeSink(b *testing.B) {
	rules := purpose.Rules{
		{Source: "file:vpn", Tags: []string{purpose.Detection}},
		{Source: "syslog:*", Tags: []string{purpose.Detection}},
		{Source: "http", Tags: []string{purpose.Detection}},
		{Source: "/var/log/hr/*.log", Tags: []string{purpose.Detection}},
		{Source: "/var/log/*.log", Tags: []string{purpose.Any}},
	}
	sink := withPurposes("file:sys", rules, discardSink{})
	recs := make([]ingest.Record, 256)
	for i := range recs {
		recs[i].Source = "file:/var/log/auth.log"
		if i%64 >= 32 {
			recs[i].Source = "file:/var/log/hr/app.log"
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = sink.Submit(ctx, recs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}
