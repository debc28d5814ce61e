package storetest

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/suppress"
)

// RunSuppressions runs the store.SuppressionStore conformance tests on a
// store with auditing on: round trip, validation, conflicts, hits, delete
// and expiry, and the audit records each change writes in its transaction.
func RunSuppressions(t *testing.T, newStore func(t *testing.T) (store.Store, audit.Store)) {
	t.Helper()
	s, as := newStore(t)
	ss, ok := s.(store.SuppressionStore)
	if !ok {
		t.Fatalf("%T does not implement store.SuppressionStore", s)
	}
	ctx := audit.WithActor(ctxFor(t), "token:analyst-1")
	mk := func(sp suppress.Spec, now time.Time) suppress.Suppression {
		t.Helper()
		x, err := suppress.New(sp, now)
		if err != nil {
			t.Fatalf("suppress.New: %v", err)
		}
		return x
	}
	now := base
	a := mk(suppress.Spec{RuleID: "r1", Entities: []suppress.Entity{{Kind: "user", Value: "Alice"}, {Kind: "source.ip", Value: "10.1.2.0/24"}},
		Reason: "known scanner", CreatedBy: "ann", OriginAlert: "A1", OriginVerdict: alert.FalsePositive}, now)
	b := mk(suppress.Spec{Detector: "ioc", Reason: "noisy feed", CreatedBy: "ann", TTL: time.Hour}, now.Add(time.Second))
	for _, x := range []suppress.Suppression{a, b} {
		if err := ss.CreateSuppression(ctx, x); err != nil {
			t.Fatalf("CreateSuppression: %v", err)
		}
	}
	if err := ss.CreateSuppression(ctx, a); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate CreateSuppression: %v, want ErrConflict", err)
	}
	bad := b
	bad.ID, bad.Detector = "bad", ""
	if err := ss.CreateSuppression(ctx, bad); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("CreateSuppression without scope: %v, want ErrInvalid", err)
	}
	odd := mk(suppress.Spec{RuleID: "r\u00e9", Reason: "caf\u00e9 \u2603", CreatedBy: "ann"}, now.Add(2*time.Second))
	if err := ss.CreateSuppression(ctx, odd); err != nil {
		t.Fatalf("CreateSuppression with non-ASCII text: %v", err)
	}
	got, err := ss.ListSuppressions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]suppress.Suppression{a, b, odd}, got, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("ListSuppressions (-want +got):\n%s", diff)
	}
	if a.Entities[0] != (suppress.Entity{Kind: "user", Value: "alice"}) || a.Entities[1] != (suppress.Entity{Kind: "ip", Value: "10.1.2.0/24"}) {
		t.Errorf("entities not canonical: %v", a.Entities)
	}
	if _, err := ss.GetSuppression(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSuppression(nope): %v, want ErrNotFound", err)
	}

	// Hits add up; the newest hit names the last event, an older one does not replace it.
	t1, t2 := now.Add(time.Minute), now.Add(2*time.Minute)
	for _, hs := range [][]suppress.Hit{
		{{ID: a.ID, Count: 3, Last: t2, LastEventID: "e2"}, {ID: "gone", Count: 1, Last: t1}},
		{{ID: a.ID, Count: 2, Last: t1, LastEventID: "e1"}},
	} {
		if err := ss.AddSuppressionHits(ctx, hs); err != nil {
			t.Fatalf("AddSuppressionHits: %v", err)
		}
	}
	ga, err := ss.GetSuppression(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ga.Hits != 5 || !ga.LastHit.Equal(t2) || ga.LastEventID != "e2" {
		t.Errorf("after hits: hits=%d last=%v event=%q, want 5 %v e2", ga.Hits, ga.LastHit, ga.LastEventID, t2)
	}

	if err := ss.DeleteSuppression(ctx, a.ID, "scanner retired"); err != nil {
		t.Fatalf("DeleteSuppression: %v", err)
	}
	if err := ss.DeleteSuppression(ctx, a.ID, "again"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteSuppression: %v, want ErrNotFound", err)
	}
	// b expires after an hour, odd after 7 days.
	if n, err := ss.ExpireSuppressions(ctx, now.Add(30*time.Minute)); err != nil || n != 0 {
		t.Errorf("ExpireSuppressions before expiry = %d, %v", n, err)
	}
	if n, err := ss.ExpireSuppressions(ctx, b.Expires); err != nil || n != 1 {
		t.Errorf("ExpireSuppressions at b's expiry = %d, %v; want 1", n, err)
	}
	got, err = ss.ListSuppressions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != odd.ID {
		t.Errorf("left after delete and expiry: %v, want only %s", got, odd.ID)
	}

	var acts []string
	for _, r := range allRecords(t, as) {
		acts = append(acts, r.Action+" "+r.SubjectID+" by "+r.Actor)
	}
	want := []string{
		"suppression_created " + a.ID + " by token:analyst-1",
		"suppression_created " + b.ID + " by token:analyst-1",
		"suppression_created " + odd.ID + " by token:analyst-1",
		"suppression_deleted " + a.ID + " by token:analyst-1",
		"suppression_deleted " + b.ID + " by token:analyst-1",
	}
	if diff := cmp.Diff(want, acts); diff != "" {
		t.Fatalf("audit records (-want +got):\n%s", diff)
	}
	recs := allRecords(t, as)
	for i, sub := range []string{"rule=r1 user:alice ip:10.1.2.0/24", "known scanner", "from alert A1, verdict false_positive"} {
		if !strings.Contains(recs[0].Explanation, sub) {
			t.Errorf("created record %d: explanation %q lacks %q", i, recs[0].Explanation, sub)
		}
	}
	if !strings.Contains(recs[3].Explanation, "scanner retired") || !strings.Contains(recs[3].Explanation, "after 5 hidden signals") {
		t.Errorf("deleted record: %q", recs[3].Explanation)
	}
	if !strings.Contains(recs[4].Explanation, "expired") {
		t.Errorf("expired record: %q", recs[4].Explanation)
	}
	l := audit.New(as, newKeys(t), audit.Options{AnchorPath: filepath.Join(t.TempDir(), "anchor.json")})
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerifyOK(t, l); rep.Records != int64(len(want)) {
		t.Errorf("chain has %d records, want %d", rep.Records, len(want))
	}
}
