package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/ingest"
	"github.com/rampart-ids/rampart/internal/pipeline"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
	"github.com/rampart-ids/rampart/internal/suppress"
)

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestSuppressionPipeline runs the serve wiring (real SQLite with audit,
// Sigma, the ML layer, the pipeline) around a suppression of rule R for
// user alice: her R signals open no alert but are counted and their events
// stored, bob still alerts, her events are kept out of ML learning as
// suppressed; after expiry (wall clock) she alerts again under the alert
// id she would have had, and the audit chain holds creation and expiry.
func TestSuppressionPipeline(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rule := "title: test login\nid: 33333333-3333-3333-3333-333333333333\nlevel: high\nlogsource: {product: app}\n" +
		"detection:\n  sel:\n    event.action: test_login\n  condition: sel\n"
	rules := filepath.Join(dir, "rules")
	if err := os.MkdirAll(rules, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rules, "r.yml"), []byte(rule), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "db"), sqlite.Options{Audit: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clock := &testClock{now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	x := NewLearningExclusions(nil)
	supp, err := LoadSuppressions(ctx, db, clock.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	eng, cleanup, err := BuildEngine(ctx, RuleSet{Sigma: []string{rules}, Exclusions: x, Suppressions: supp})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	ws := supp.WrapStore(db)
	ss := ws.(store.SuppressionStore)

	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	pos := 0
	run := func(lines ...string) {
		t.Helper()
		p, err := pipeline.New(pipeline.Options{Engine: eng, Store: ws, ThrottleWindow: time.Hour, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		var recs []ingest.Record
		for _, l := range lines {
			pos++
			recs = append(recs, ingest.Record{Source: "test", Position: fmt.Sprint(pos), Data: []byte(l), Received: clock.Now()})
		}
		if err := p.Submit(ctx, recs); err != nil {
			t.Fatal(err)
		}
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	login := func(user string, sec int, action string) string {
		return fmt.Sprintf(`{"@timestamp":"%s","event":{"module":"app","dataset":"app.session","action":%q},"host":{"name":"ws-%s","os":{"type":"linux"}},"user":{"name":%q},"message":"login"}`,
			t0.Add(time.Duration(sec)*time.Second).Format(time.RFC3339), action, user, user)
	}
	alertsFor := func(user string) []alert.Alert {
		t.Helper()
		page, err := db.ListAlerts(ctx, store.AlertQuery{Entity: user, RuleID: "33333333-3333-3333-3333-333333333333"})
		if err != nil {
			t.Fatal(err)
		}
		return page.Alerts
	}

	sp, err := suppress.New(suppress.Spec{RuleID: "33333333-3333-3333-3333-333333333333", Entities: []suppress.Entity{{Kind: "user", Value: "Alice"}},
		Reason: "alice's test account", CreatedBy: "ann", TTL: time.Hour}, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	actx := audit.WithActor(ctx, "token:analyst-1")
	if err := ss.CreateSuppression(actx, sp); err != nil {
		t.Fatal(err)
	}
	if supp.Active() != 1 {
		t.Fatalf("matcher holds %d suppressions after create, want 1", supp.Active())
	}

	run(login("alice", 1, "test_login"), login("alice", 2, "test_login"), login("bob", 3, "test_login"))
	pos -= 3 // the same records again (a client retry): same event and signal ids, counted once
	run(login("alice", 1, "test_login"), login("alice", 2, "test_login"), login("bob", 3, "test_login"))
	if a := alertsFor("alice"); len(a) != 0 {
		t.Fatalf("suppressed alice has alerts: %+v", a)
	}
	if a := alertsFor("bob"); len(a) != 1 {
		t.Fatalf("bob has %d alerts, want 1", len(a))
	}
	got, err := ss.GetSuppression(ctx, sp.ID) // flushes the in-memory hits first
	if err != nil {
		t.Fatal(err)
	}
	if got.Hits != 2 || got.LastEventID == "" || !got.LastHit.Equal(clock.Now()) {
		t.Fatalf("suppression after two hidden signals delivered twice: hits %d, last %v event %q", got.Hits, got.LastHit, got.LastEventID)
	}
	if evs, err := db.GetEvents(ctx, []string{got.LastEventID}); err != nil || len(evs) != 1 {
		t.Fatalf("the hidden signal's evidence event is not stored: %v %v", evs, err)
	}
	// Learning sees every delivery: alice's 2 events twice, bob's once twice.
	if n := x.Excluded(ExcludeSuppressed); n != 4 {
		t.Errorf("%d events kept out of learning as suppressed, want alice's 2×2", n)
	}
	if n := x.Excluded(ExcludeAlert); n != 2 {
		t.Errorf("%d events kept out of learning for an alert, want bob's 1×2", n)
	}

	// An entity-only suppression keeps carol's unflagged activity out of learning too.
	carol, err := suppress.New(suppress.Spec{Entities: []suppress.Entity{{Kind: "user.name", Value: "carol"}}, Reason: "pen tester", TTL: time.Hour}, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.CreateSuppression(actx, carol); err != nil {
		t.Fatal(err)
	}
	run(login("carol", 4, "browse"), login("dave", 5, "browse"))
	if n := x.Excluded(ExcludeSuppressed); n != 5 {
		t.Errorf("%d events kept out of learning as suppressed, want 5 (carol's unflagged one added, not dave's)", n)
	}

	// After expiry (wall clock) alice alerts again, under the id she would
	// have had: the same rule, entities and throttle window.
	clock.Add(time.Hour)
	run(login("alice", 6, "test_login"))
	a := alertsFor("alice")
	if len(a) != 1 || a[0].Count != 1 {
		t.Fatalf("after expiry alice has %+v, want one new alert", a)
	}
	want := alert.DeriveID(&signal.Signal{Detector: a[0].Detector, RuleID: a[0].RuleID, Entities: a[0].Entities, Time: t0}, time.Hour)
	if a[0].ID != want {
		t.Errorf("alert id %s, want the deterministic %s", a[0].ID, want)
	}
	if n, err := supp.Expire(ctx); err != nil || n != 2 {
		t.Fatalf("Expire = %d, %v; want both suppressions", n, err)
	}
	if supp.Active() != 0 {
		t.Errorf("matcher holds %d after expiry", supp.Active())
	}

	var acts []string
	var deleted []audit.Record
	err = db.Audit().Range(ctx, 0, 0, func(r audit.Record) error {
		acts = append(acts, r.Action)
		if r.Action == audit.ActionSuppressionDeleted {
			deleted = append(deleted, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantActs := []string{"suppression_created", "alert_created", "suppression_created", "alert_created", "suppression_deleted", "suppression_deleted"}
	if !slices.Equal(acts, wantActs) {
		t.Errorf("audit actions %v, want %v", acts, wantActs)
	}
	if len(deleted) != 2 || !strings.Contains(deleted[0].Explanation+deleted[1].Explanation, "expired) after 2 hidden signals") {
		t.Errorf("expiry records %+v", deleted)
	}
	lg, err := audit.OpenLog(db.Audit(), filepath.Join(dir, audit.KeyFileName), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lg.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := lg.Verify(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("audit verify: %+v %v", rep, err)
	}
}
