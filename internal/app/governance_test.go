package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/config"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/modelreg"
	"github.com/rampart-ids/rampart/internal/privacy"
	"github.com/rampart-ids/rampart/internal/retention"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
)

// manualClock is the fake clock of the retention test: it moves only when told.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *manualClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }
func (c *manualClock) After(time.Duration) <-chan time.Time {
	return make(chan time.Time) // RunOnce only: never fires
}

// TestRetentionEveryClass runs serve's retention job on real SQLite under a
// fake clock: each class loses exactly what is older than its retention,
// the run is audited with counts per class, and the audit chain, cut to
// its oldest retained checkpoint, still verifies.
func TestRetentionEveryClass(t *testing.T) {
	ctx := context.Background()
	day := 24 * time.Hour
	T := time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)
	clk := &manualClock{now: T.Add(-500 * day)}
	dir := t.TempDir()

	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Retention = config.Retention{
		RawEvents: config.Duration(7 * day), Events: config.Duration(30 * day), Quarantine: config.Duration(30 * day),
		Alerts: config.Duration(365 * day), Verdicts: config.Duration(180 * day), Models: config.Duration(30 * day),
		Audit: config.Duration(400 * day), PrivacyMappings: config.Duration(400 * day),
	}
	sq, err := sqlite.Open(ctx, dir, sqlite.Options{Audit: true, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	s := &Server{cfg: cfg, log: slog.New(slog.DiscardHandler), store: sq, auditStore: sq.Audit()}
	s.gov.clock = clk
	if s.audit, err = audit.OpenLog(sq.Audit(), filepath.Join(dir, audit.KeyFileName), audit.Options{Now: clk.Now}); err != nil {
		t.Fatal(err)
	}
	s.cfg.Privacy.Deps.Now = clk.Now
	p, err := s.pseudonymizer()
	if err != nil {
		t.Fatal(err)
	}

	// 500 days ago: an entity pseudonymized, and the first audit segment.
	oldPs := p.Value(privacy.KindUser, "alice")
	rec := func(n int) {
		for range n {
			if _, err := s.audit.Record(ctx, audit.Record{Actor: "user:test", Action: audit.ActionPolicyChanged, SubjectKind: "policy", SubjectID: "p"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkpoint := func() {
		if _, err := s.audit.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rec(5)
	checkpoint()
	clk.Set(T.Add(-450 * day))
	rec(5)
	checkpoint()
	cutSeq := mustHead(t, sq).Seq // the newest checkpoint before the audit cut-off
	clk.Set(T.Add(-399 * day))
	sig := func(id string, at time.Time) signal.Signal {
		return signal.Signal{ID: id, Detector: "sigma", Layer: signal.LayerRules, RuleID: "r", RuleVersion: "1", Title: "t",
			Level: signal.LevelHigh, Entities: []signal.Entity{{Kind: "user", Value: id}}, Time: at}
	}
	if _, _, err := sq.RecordSignals(ctx, []signal.Signal{sig("old-alert", T.Add(-400*day))}, []string{"old-alert"}); err != nil {
		t.Fatal(err)
	}
	rec(3)
	checkpoint()

	// Now: the rest of the data, at ages either side of each retention.
	clk.Set(T)
	newPs := p.Value(privacy.KindUser, "bob")
	ev := func(id string, received time.Time) *event.Event {
		return &event.Event{ID: id, Time: received, Received: received, Source: "test", Format: "syslog",
			Fields: map[string]any{"message": "m " + id}, Raw: []byte("raw " + id)}
	}
	if err := sq.AppendEvents(ctx, []*event.Event{ev("e-old", T.Add(-40*day)), ev("e-mid", T.Add(-10*day)), ev("e-new", T.Add(-time.Hour))}); err != nil {
		t.Fatal(err)
	}
	if err := sq.Quarantine(ctx, []store.Quarantined{{Time: T.Add(-40 * day), Reason: "r", Raw: []byte("x")}, {Time: T.Add(-day), Reason: "r", Raw: []byte("y")}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sq.RecordSignals(ctx, []signal.Signal{sig("a-new", T.Add(-day)), sig("a-newer", T.Add(-day))}, []string{"a-new", "a-newer"}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []alert.Verdict{
		{AlertID: "a-new", Kind: alert.FalsePositive, Author: "ann", Reason: "old", Time: T.Add(-200 * day)},
		{AlertID: "a-newer", Kind: alert.TruePositive, Author: "ann", Reason: "new", Time: T.Add(-day)},
	} {
		if err := sq.SetVerdict(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	reg, err := modelreg.Open(modelreg.DefaultDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	for i, age := range []time.Duration{90 * day, 60 * day, 45 * day} {
		v := string(rune('1' + i))
		a, err := model.New(model.Body{Kind: "test", Name: "m", Version: v, Created: T.Add(-age),
			Lineage: model.Lineage{ClassCounts: map[string]int{"normal": 1}, ContentHash: "sha256:00"}}, []int{i})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := reg.Save(a, true); err != nil {
			t.Fatal(err)
		}
	}
	checkpoint()

	if err := s.buildRetention(); err != nil {
		t.Fatal(err)
	}
	rep := s.gov.job.RunOnce(ctx)
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	got := map[retention.Class]int64{}
	for _, r := range rep.Results {
		got[r.Class] = r.Deleted
	}
	want := map[retention.Class]int64{
		retention.RawEvents: 2, retention.Events: 1, retention.Quarantine: 1, retention.Alerts: 1,
		retention.Verdicts: 1, retention.Models: 1, retention.Mappings: 1, retention.Audit: cutSeq - 1,
	}
	for c, n := range want {
		if got[c] != n {
			t.Errorf("%s: deleted %d, want %d", c, got[c], n)
		}
	}

	// What stays, stays.
	evs, err := sq.GetEvents(ctx, []string{"e-old", "e-mid", "e-new"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || len(evs[0].Raw) != 0 || string(evs[1].Raw) != "raw e-new" || evs[0].Fields["message"] != "m e-mid" {
		t.Errorf("events after retention: %+v", evs)
	}
	if a, err := sq.GetAlert(ctx, "a-newer"); err != nil || a.Verdict == nil {
		t.Errorf("recent verdict gone: %+v, %v", a.Verdict, err)
	}
	if _, err := reg.Load("m", "1"); !errors.Is(err, modelreg.ErrNotFound) {
		t.Errorf("model m@1 still loads (%v)", err)
	}
	for _, v := range []string{"2", "3"} {
		if _, err := reg.Load("m", v); err != nil {
			t.Errorf("model m@%s (active or previous) gone: %v", v, err)
		}
	}
	admin := privacy.WithRole(ctx, "admin")
	s.gov.p = nil // re-open from disk: the purge reached the file
	s.gov.maps.Close()
	s.cfg.Privacy.Deps.Now = clk.Now
	if p, err = s.pseudonymizer(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Reidentify(admin, oldPs, "token:admin"); !errors.Is(err, privacy.ErrNotFound) {
		t.Errorf("purged mapping re-identified (%v)", err)
	}
	if v, err := p.Reidentify(admin, newPs, "token:admin"); err != nil || v != "bob" {
		t.Errorf("recent mapping: %q, %v", v, err)
	}

	// The chain verifies from its oldest retained checkpoint, and the run is in it.
	verifyChain(t, s)
	var runs []audit.Record
	_ = sq.Audit().Range(ctx, 0, 0, func(r audit.Record) error {
		if r.Action == "retention_purged" {
			runs = append(runs, r)
		}
		return nil
	})
	if len(runs) != 1 || runs[0].Actor != ActorRetention || !strings.Contains(runs[0].Explanation, "events=1 ") ||
		!strings.Contains(runs[0].Explanation, "audit=") {
		t.Fatalf("retention run records: %+v", runs)
	}

	// A second run an hour later finds nothing and does not cut again.
	clk.Set(T.Add(time.Hour))
	rep = s.gov.job.RunOnce(ctx)
	if rep.Deleted() != 0 || rep.Err() != nil {
		t.Errorf("second run deleted %d (%v), want 0", rep.Deleted(), rep.Err())
	}
	verifyChain(t, s)
}

func mustHead(t *testing.T, st *sqlite.Store) audit.Head {
	t.Helper()
	h, err := st.Audit().Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func verifyChain(t *testing.T, s *Server) {
	t.Helper()
	rep, err := s.audit.Verify(context.Background())
	if err != nil || !rep.OK {
		t.Fatalf("audit verify after retention: %+v, %v", rep.Problem, err)
	}
	if rep.FirstSeq <= 1 {
		t.Errorf("chain still starts at seq %d", rep.FirstSeq)
	}
}

// TestRetentionPolicyRefused: an audit log kept shorter than its minimum
// stops serve from starting.
func TestRetentionPolicyRefused(t *testing.T) {
	ctx := context.Background()
	sq, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	cfg := config.Default()
	cfg.Retention.Audit = config.Duration(30 * 24 * time.Hour)
	s := &Server{cfg: cfg, log: slog.New(slog.DiscardHandler), store: sq}
	if err := s.buildRetention(); err == nil || !strings.Contains(err.Error(), "retention.audit") {
		t.Errorf("buildRetention = %v, want a retention.audit error", err)
	}
}

// TestOutputsPseudonymized: alert outputs are an export path. With privacy
// on, an output gets pseudonyms unless configured `clear: true`, which is
// recorded in the audit log at start.
func TestOutputsPseudonymized(t *testing.T) {
	dir := t.TempDir()
	pseudoPath, clearPath := filepath.Join(dir, "pseudo.jsonl"), filepath.Join(dir, "clear.jsonl")
	cfg, err := config.Parse("test.yaml", []byte(fmt.Sprintf(`data_dir: %s
http:
  listen: 127.0.0.1:0
  ingest_rate: 0
alerts:
  outputs:
    - kind: file
      path: %s
    - kind: file
      path: %s
      clear: true
`, filepath.Join(dir, "data"), pseudoPath, clearPath)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, token, done := startNode(t, ctx, cfg, ServeOptions{Logger: slog.New(slog.DiscardHandler)})
	var lines []string
	for i := range 8 {
		lines = append(lines, fmt.Sprintf(`{"@timestamp":"2026-11-20T10:00:%02dZ","event":{"dataset":"system.auth","action":"ssh_login","outcome":"failure"},"source":{"ip":"10.1.2.3","port":%d},"user":{"name":"maria.lopez"},"host":{"name":"db-07.corp.lan"},"process":{"name":"sshd"},"message":"Failed password for maria.lopez from 10.1.2.3"}`, i*3, 40000+i))
	}
	req, _ := http.NewRequest("POST", base+"/api/v1/events", strings.NewReader(strings.Join(lines, "\n")+"\n"))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("ingest: %v %v", resp, err)
	}
	resp.Body.Close()
	waitFor(t, func() bool {
		b, _ := os.ReadFile(clearPath)
		return bytes.Contains(b, []byte("10.1.2.3"))
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	pseudo, _ := os.ReadFile(pseudoPath)
	if len(pseudo) == 0 {
		t.Fatal("the pseudonymized output got no alert")
	}
	for _, raw := range []string{"10.1.2.3", "maria.lopez", "db-07"} {
		if bytes.Contains(pseudo, []byte(raw)) {
			t.Errorf("pseudonymized output holds %q:\n%s", raw, pseudo)
		}
	}
	verifyAudit(t, cfg.DataDir, map[string]int{"policy_changed": 1})
}
