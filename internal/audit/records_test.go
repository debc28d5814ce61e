package audit_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/signal"
)

func TestRecordBuilders(t *testing.T) {
	ctx := context.Background()
	tokenCtx := audit.WithActor(ctx, "token:analyst-1")
	a := alert.Alert{ID: "al-1", Detector: "sigma", Layer: "rules", RuleID: "ssh_brute", RuleVersion: "3", Title: "SSH brute force",
		Level: "high", EntityKey: "ip=203.0.113.9", Explanation: "5 failures in 60s"}
	s := signal.Signal{ID: "sig-1", EventIDs: []string{"e1", "e2"}}
	many := map[string]string{}
	for i := range 50 {
		many[fmt.Sprintf("rule%02d", i)] = "v1"
	}
	tests := []struct {
		name  string
		rec   audit.Record
		check func(t *testing.T, r audit.Record)
	}{
		{"alert from pipeline", audit.AlertCreated(ctx, a, s), func(t *testing.T, r audit.Record) {
			if r.Actor != audit.ActorPipeline || r.SubjectID != "al-1" || r.Versions["rule"] != "ssh_brute@3" ||
				r.InputDigest != audit.Digest([]byte("sig-1"), []byte("e1"), []byte("e2")) || !strings.Contains(r.Explanation, "5 failures") {
				t.Errorf("got %+v", r)
			}
		}},
		{"verdict actor from context", audit.VerdictSet(tokenCtx, alert.Verdict{AlertID: "al-1", Kind: alert.FalsePositive, Reason: "pen test", Author: "bob"}),
			func(t *testing.T, r audit.Record) {
				if r.Actor != "token:analyst-1" || r.Action != audit.ActionVerdictSet || !strings.Contains(r.Explanation, "false_positive by bob: pen test") {
					t.Errorf("got %+v", r)
				}
			}},
		{"verdict actor from author", audit.VerdictSet(ctx, alert.Verdict{AlertID: "al-1", Kind: alert.TruePositive, Author: "bob"}),
			func(t *testing.T, r audit.Record) {
				if r.Actor != "user:bob" {
					t.Errorf("actor %q", r.Actor)
				}
			}},
		{"long author clipped", audit.VerdictSet(ctx, alert.Verdict{AlertID: "al-1", Kind: alert.TruePositive, Author: strings.Repeat("é", 300)}),
			func(t *testing.T, r audit.Record) {
				if len(r.Actor) > audit.MaxActor || !strings.HasPrefix(r.Actor, "user:éé") {
					t.Errorf("actor %d bytes", len(r.Actor))
				}
			}},
		{"token without secret", audit.TokenCreated(ctx, "t1", "ci", "ingest"), func(t *testing.T, r audit.Record) {
			if r.Actor != audit.ActorSystem || r.SubjectKind != "token" || r.Explanation != `token "ci" with role ingest` {
				t.Errorf("got %+v", r)
			}
		}},
		{"rules reloaded caps versions", audit.RulesReloaded("component:app", "sigma", many, audit.Digest([]byte("x")), ""),
			func(t *testing.T, r audit.Record) {
				if len(r.Versions) != audit.MaxVersions || r.Versions["rules"] != "50" || r.Explanation != "50 sigma rules loaded" {
					t.Errorf("got %d versions, %+v", len(r.Versions), r)
				}
			}},
		{"generic change", audit.Change(tokenCtx, audit.ActionModelPromoted, "model", "iforest@2", "", map[string]string{"model": "iforest@2"}, " beat iforest@1 "),
			func(t *testing.T, r audit.Record) {
				if r.Actor != "token:analyst-1" || r.Explanation != "beat iforest@1" {
					t.Errorf("got %+v", r)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, tc.rec)
			// Every builder makes a record that seals.
			if _, err := audit.Seal(audit.Head{}, []audit.Record{tc.rec}, t0); err != nil {
				t.Errorf("Seal: %v", err)
			}
		})
	}
}
