package app

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/detect/anomaly"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store/postgres"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
)

// TestVerdictKeepsEntityOutOfBaseline runs the real wiring on a real
// SQLite store: after a true_positive verdict on an alert for user alice,
// recorded through the store WrapStore returns, her later events do not
// move her baseline. Day 0 both users log 2 events per 10-minute window;
// day 1 alice logs 30; day 2 alice logs 30 again. Learned (the control),
// day 1 becomes her normal and day 2 raises next to nothing; excluded,
// her baseline stays at day 0 and every day-2 window fires. Bob, who has
// no verdict, keeps learning in both runs.
func TestVerdictKeepsEntityOutOfBaseline(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	const win = 10 * time.Minute
	run := func(t *testing.T, verdict alert.VerdictKind) (day2 int, x *LearningExclusions) {
		db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		sig := signal.Signal{ID: "s1", Detector: "sigma", Layer: signal.LayerRules, RuleID: "r1", Title: "test", Level: signal.LevelHigh,
			Entities: []signal.Entity{{Kind: "user", Value: "Alice"}, {Kind: "process", Value: "/bin/sh"}}, Time: t0, EventIDs: []string{"e0"}}
		alertID := alert.DeriveID(&sig, time.Hour)
		if _, _, err := db.RecordSignals(ctx, []signal.Signal{sig}, []string{alertID}); err != nil {
			t.Fatal(err)
		}
		x, err = LoadLearningExclusions(ctx, db, nil)
		if err != nil {
			t.Fatal(err)
		}
		if x.Len() != 0 {
			t.Fatalf("%d entities excluded before any verdict", x.Len())
		}
		v := alert.Verdict{AlertID: alertID, Kind: verdict, Reason: "checked", Author: "analyst", Time: t0}
		if err := x.WrapStore(db).SetVerdict(ctx, v); err != nil {
			t.Fatal(err)
		}
		eng, cleanup, err := BuildEngine(ctx, RuleSet{Exclusions: x})
		if err != nil {
			t.Fatal(err)
		}
		defer cleanup()
		n := 0
		emit := func(s signal.Signal) {
			if s.Detector == anomaly.KindAnomaly && s.RuleID == "baseline-user" && s.Entities[0].Value == "alice" && !s.Time.Before(t0.Add(48*time.Hour)) {
				day2++
			}
		}
		feed := func(w int, user string, k int) {
			for i := 0; i < k; i++ {
				n++
				ev := event.New()
				ev.ID, ev.Time = fmt.Sprintf("e%d", n), t0.Add(time.Duration(w)*win+time.Duration(i)*time.Second)
				ev.Set("event.module", "app")
				ev.Set("event.dataset", "app.session")
				ev.Set("user.name", user)
				ev.Set("host.name", "ws-"+user)
				eng.Process(ctx, ev, emit)
			}
		}
		for w := 0; w < 3*144; w++ {
			alice := 30
			if w < 144 {
				alice = 2
			}
			feed(w, "alice", alice)
			feed(w, "bob", 2)
		}
		return day2, x
	}

	t.Run("true_positive", func(t *testing.T) {
		day2, x := run(t, alert.TruePositive)
		t.Logf("alice fired in %d day-2 windows; %d events excluded", day2, x.Excluded(ExcludeMalicious))
		if x.Len() != 1 {
			t.Errorf("%d entities excluded, want 1 (user alice; processes are never excluded)", x.Len())
		}
		// Alice logs 2·144 + 30·288 events after the verdict, bob none excluded.
		if got, want := x.Excluded(ExcludeMalicious), uint64(2*144+30*288); got != want {
			t.Errorf("%d events excluded as malicious, want %d", got, want)
		}
		if day2 < 140 {
			t.Errorf("alice fired in %d of 144 day-2 windows: her day-1 burst moved her baseline", day2)
		}
	})
	t.Run("false_positive control", func(t *testing.T) {
		day2, x := run(t, alert.FalsePositive)
		t.Logf("alice fired in %d day-2 windows", day2)
		if x.Len() != 0 || x.Excluded(ExcludeMalicious) != 0 {
			t.Errorf("false_positive verdict excluded %d entities, %d events", x.Len(), x.Excluded(ExcludeMalicious))
		}
		if day2 > 5 {
			t.Errorf("learned control: alice fired in %d day-2 windows, want her day-1 level learned", day2)
		}
	})
}

// TestLearningExclusionsVerdictChanges: a verdict changed away from
// true_positive releases the entities only no other alert holds, and the
// set reloads from the store.
func TestLearningExclusionsVerdictChanges(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i, ents := range [][]signal.Entity{
		{{Kind: "user", Value: "mallory"}, {Kind: "ip", Value: "::ffff:203.0.113.7"}},
		{{Kind: "user", Value: "MALLORY"}, {Kind: "host", Value: "WS1"}},
	} {
		s := signal.Signal{ID: fmt.Sprint("s", i), Detector: "sigma", RuleID: fmt.Sprint("r", i), Level: signal.LevelHigh, Entities: ents, Time: t0}
		ids = append(ids, alert.DeriveID(&s, time.Hour))
		if _, _, err := db.RecordSignals(ctx, []signal.Signal{s}, ids[i:]); err != nil {
			t.Fatal(err)
		}
	}
	x := NewLearningExclusions(nil)
	ws := x.WrapStore(db)
	if _, ok := ws.(fullStore); !ok {
		t.Fatal("wrapped SQLite store hides its optional interfaces")
	}
	set := func(id string, k alert.VerdictKind) {
		t.Helper()
		if err := ws.SetVerdict(ctx, alert.Verdict{AlertID: id, Kind: k, Reason: "r", Author: "a", Time: t0}); err != nil {
			t.Fatal(err)
		}
	}
	ev := func(kv ...string) *event.Event {
		e := event.New()
		for i := 0; i+1 < len(kv); i += 2 {
			e.Set(kv[i], kv[i+1])
		}
		return e
	}
	check := func(x *LearningExclusions, want map[*event.Event]bool) {
		t.Helper()
		for e, w := range want {
			if got := x.malicious(e); got != w {
				t.Errorf("%v: malicious %v, want %v", e.Fields, got, w)
			}
		}
	}
	mallory, src, ws1 := ev("user.name", "Mallory"), ev("source.ip", "203.0.113.7"), ev("host.hostname", "ws1")
	set(ids[0], alert.TruePositive)
	set(ids[1], alert.TruePositive)
	check(x, map[*event.Event]bool{mallory: true, src: true, ws1: true, ev("user.name", "bob"): false})
	set(ids[1], alert.BenignTruePositive) // mallory stays: alert 0 still holds her
	check(x, map[*event.Event]bool{mallory: true, src: true, ws1: false})
	if x.Len() != 2 {
		t.Errorf("%d entities, want 2", x.Len())
	}
	y, err := LoadLearningExclusions(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	check(y, map[*event.Event]bool{mallory: true, src: true, ws1: false})
	set(ids[0], alert.FalsePositive)
	check(x, map[*event.Event]bool{mallory: false, src: false})
	if err := ws.SetVerdict(ctx, alert.Verdict{AlertID: "nope", Kind: alert.TruePositive, Reason: "r", Author: "a"}); err == nil {
		t.Error("verdict on a missing alert accepted")
	}
}

// Both stores keep their optional interfaces through WrapStore.
var (
	_ fullStore = (*sqlite.Store)(nil)
	_ fullStore = (*postgres.Store)(nil)
)
