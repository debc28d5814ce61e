package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/api"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/signal"
)

func TestSuppressionsAPI(t *testing.T) {
	e := newSessionEnv(t)
	ctx := context.Background()
	sig := signal.Signal{ID: "s2", Detector: "sigma", Layer: signal.LayerRules, RuleID: "r2", Title: "Rule r2",
		Level: signal.LevelHigh, Score: 1, Time: e.clock.Now(),
		Entities: []signal.Entity{{Kind: "user", Value: "Alice"}, {Kind: "process", Value: "/bin/sh"}, {Kind: "ip", Value: "192.0.2.7"}}}
	if _, _, err := e.st.RecordSignals(ctx, []signal.Signal{sig}, []string{"a2"}); err != nil {
		t.Fatal(err)
	}
	as := func(role string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + e.secrets[role], "Content-Type": "application/json"}
	}
	bad := []struct{ name, body, want string }{
		{"no scope", `{"reason":"x"}`, "never hides everything"},
		{"no reason", `{"rule_id":"r1"}`, "reason"},
		{"bad entity", `{"rule_id":"r1","reason":"x","entities":["alice"]}`, "kind:value"},
		{"bad cidr", `{"rule_id":"r1","reason":"x","entities":["source.ip:10.0.0.0/33"]}`, "CIDR"},
		{"too long", `{"rule_id":"r1","reason":"x","duration":"91d"}`, "duration"},
		{"bad duration", `{"rule_id":"r1","reason":"x","duration":"soon"}`, "duration"},
		{"both expiries", `{"rule_id":"r1","reason":"x","duration":"1h","expires_at":"2030-01-01T00:00:00Z"}`, "not both"},
		{"past expiry", `{"rule_id":"r1","reason":"x","expires_at":"2020-01-01T00:00:00Z"}`, "future"},
		{"unknown field", `{"rule_id":"r1","reason":"x","scope":"all"}`, "unknown field"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do("POST", "/api/v1/suppressions", tc.body, as(api.RoleAnalyst))
			if rec.Code != 400 || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("%d %s, want 400 with %q", rec.Code, rec.Body, tc.want)
			}
		})
	}
	if rec := e.do("POST", "/api/v1/suppressions", `{"from_alert":"nope","reason":"x"}`, as(api.RoleAnalyst)); rec.Code != 404 {
		t.Errorf("from a missing alert: %d %s", rec.Code, rec.Body)
	}

	// Suppress similar: scope from the alert (process entity left out).
	rec := e.do("POST", "/api/v1/suppressions", `{"from_alert":"a2","reason":"admin's nightly job","duration":"2d"}`, as(api.RoleAnalyst))
	if rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var got api.Suppression
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Detector != "sigma" || got.RuleID != "r2" || strings.Join(got.Entities, " ") != "user:alice ip:192.0.2.7" ||
		got.OriginAlert != "a2" || got.CreatedBy != "t-analyst" || !got.Active ||
		!got.ExpiresAt.Equal(e.clock.Now().Add(48*time.Hour)) {
		t.Errorf("created %+v", got)
	}
	// Explicit fields win over the alert's.
	rec = e.do("POST", "/api/v1/suppressions", `{"from_alert":"a2","entities":[],"detector":"","reason":"whole rule"}`, as(api.RoleAdmin))
	var rule api.Suppression
	if err := json.Unmarshal(rec.Body.Bytes(), &rule); err != nil || rec.Code != 201 || rule.Detector != "" || len(rule.Entities) != 0 || rule.RuleID != "r2" {
		t.Errorf("override: %d %s", rec.Code, rec.Body)
	}

	rec = e.do("GET", "/api/v1/suppressions", "", as(api.RoleViewer))
	var list struct{ Suppressions []api.Suppression }
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || rec.Code != 200 || len(list.Suppressions) != 2 ||
		list.Suppressions[0].ID+list.Suppressions[1].ID != min(got.ID, rule.ID)+max(got.ID, rule.ID) { // same created time: by id
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	if rec := e.do("DELETE", "/api/v1/suppressions/"+got.ID+"?reason=job+moved", "", as(api.RoleViewer)); rec.Code != 403 {
		t.Errorf("viewer delete: %d", rec.Code)
	}
	if rec := e.do("DELETE", "/api/v1/suppressions/"+got.ID+"?reason=job+moved", "", as(api.RoleAnalyst)); rec.Code != 204 {
		t.Errorf("delete: %d %s", rec.Code, rec.Body)
	}
	if rec := e.do("DELETE", "/api/v1/suppressions/"+got.ID, "", as(api.RoleAnalyst)); rec.Code != 404 || !strings.Contains(rec.Body.String(), "suppression_not_found") {
		t.Errorf("second delete: %d %s", rec.Code, rec.Body)
	}

	var recs []audit.Record
	_ = e.audit.Store().Range(ctx, 0, 0, func(r audit.Record) error { recs = append(recs, r); return nil })
	var acts []string
	for _, r := range recs {
		if strings.HasPrefix(r.Action, "suppression_") {
			acts = append(acts, r.Action+" by "+r.Actor)
		}
	}
	want := "suppression_created by token:t-analyst,suppression_created by token:t-admin,suppression_deleted by token:t-analyst"
	if strings.Join(acts, ",") != want {
		t.Errorf("audit: %v, want %s", acts, want)
	}
	if last := recs[len(recs)-1]; !strings.Contains(last.Explanation, "deleted by t-analyst: job moved") {
		t.Errorf("delete record explanation %q", last.Explanation)
	}
}
