package modelreg

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/ml/robust"
)

// failingAuditor refuses every record.
type failingAuditor struct{}

func (failingAuditor) Record(context.Context, ...audit.Record) ([]audit.Record, error) {
	return nil, errors.New("disk full")
}

// TestDecisionsInAuditChain: a refusal, a promotion and a rollback each
// become an audit record with their numbers, the chain verifies, and a
// decision that cannot be audited does not take effect.
func TestDecisionsInAuditChain(t *testing.T) {
	reg, err := Open(filepath.Join(t.TempDir(), "models"))
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	writeTestCSV(t, data)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, a := range []*model.Artifact{
		payloadArtifact(t, "1", trainingRows(false)),
		payloadArtifact(t, "2", trainingRows(true)), // poisoned
		payloadArtifact(t, "3", trainingRows(false)),
	} {
		if _, _, err := reg.Save(a, false); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	// Unauditable: refused with the reason, nothing activated or logged.
	reg.SetAuditor(failingAuditor{})
	if _, err := reg.Promote(ctx, "web", PromoteOptions{Data: data, Challenger: "3", Now: now, Actor: "test"}); err == nil || !strings.Contains(err.Error(), "audit log") {
		t.Fatalf("promotion without an audit record: %v", err)
	}
	if v, _ := reg.Active("web"); v != "1" {
		t.Fatalf("active %s after an unaudited promotion", v)
	}
	if ds, _ := reg.Decisions("web"); len(ds) != 0 {
		t.Fatalf("unaudited decision logged: %+v", ds)
	}

	keys, err := audit.OpenKeyRing(filepath.Join(t.TempDir(), audit.KeyFileName), now)
	if err != nil {
		t.Fatal(err)
	}
	mem := audit.NewMemory(func() time.Time { return now })
	l := audit.New(mem, keys, audit.Options{AnchorPath: filepath.Join(t.TempDir(), "anchor.json"), Now: func() time.Time { return now }})
	reg.SetAuditor(l)
	if _, err := reg.Promote(ctx, "web", PromoteOptions{Data: data, Challenger: "2", Now: now, Actor: "cli:alice"}); !errors.Is(err, robust.ErrRefused) {
		t.Fatalf("poisoned challenger: %v", err)
	}
	if _, err := reg.Promote(ctx, "web", PromoteOptions{Data: data, Challenger: "3", Now: now, Actor: "cli:alice"}); err != nil {
		t.Fatalf("clean challenger: %v", err)
	}
	if _, err := reg.Rollback("web", now, "cli:bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	var recs []audit.Record
	if err := mem.Range(ctx, 1, 0, func(r audit.Record) error { recs = append(recs, r); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []struct{ action, actor, to string }{
		{ActionModelPromotionRefused, "cli:alice", "1"},
		{audit.ActionModelPromoted, "cli:alice", "3"},
		{audit.ActionModelRolledBack, "cli:bob", "1"},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d audit records, want %d: %+v", len(recs), len(want), recs)
	}
	for i, w := range want {
		r := recs[i]
		if r.Action != w.action || r.Actor != w.actor || r.SubjectKind != "model" || r.SubjectID != "web" || r.Versions["to"] != w.to {
			t.Errorf("record %d: %+v, want %+v", i, r, w)
		}
		// The numbers the decision was made on.
		for _, k := range []string{"champion_recall", "challenger_recall", "champion_alerts", "challenger_alerts", "alert_budget", "max_recall_drop", "max_alert_growth"} {
			if r.Versions[k] == "" {
				t.Errorf("record %d (%s): no %s in %v", i, r.Action, k, r.Versions)
			}
		}
		if len(r.InputDigest) != 64 || !strings.Contains(r.Explanation, "recall") {
			t.Errorf("record %d: digest %q, explanation %q", i, r.InputDigest, r.Explanation)
		}
	}
	if recs[0].Versions["challenger_recall"] >= recs[0].Versions["champion_recall"] {
		t.Errorf("refusal record does not show the recall drop: %v", recs[0].Versions)
	}
	rep, err := audit.Verify(ctx, mem, keys.Public(), audit.VerifyOptions{})
	if err != nil || !rep.OK || rep.Records != 3 || rep.Unsigned != 0 {
		t.Fatalf("audit verify: %+v, %v", rep, err)
	}
}
