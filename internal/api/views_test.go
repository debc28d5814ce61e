package api_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/api"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/signal"
)

func TestDetectorHealth(t *testing.T) {
	e := newSessionEnv(t)
	ctx := context.Background()
	// a1 (sigma) exists; add a2, a3 (sigma) and b1 (ioc), then judge them.
	for _, s := range []struct{ id, det string }{{"a2", "sigma"}, {"a3", "sigma"}, {"b1", "ioc"}} {
		sig := signal.Signal{ID: "s-" + s.id, Detector: s.det, Layer: signal.LayerRules, RuleID: "r", Title: "t",
			Level: signal.LevelLow, Time: e.clock.Now()}
		if _, _, err := e.st.RecordSignals(ctx, []signal.Signal{sig}, []string{s.id}); err != nil {
			t.Fatal(err)
		}
	}
	for id, k := range map[string]alert.VerdictKind{"a1": alert.TruePositive, "a2": alert.FalsePositive, "a3": alert.FalsePositive, "b1": alert.BenignTruePositive} {
		if err := e.st.SetVerdict(ctx, alert.Verdict{AlertID: id, Kind: k, Reason: "r", Author: "x", Time: e.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	rec := e.do("GET", "/api/v1/detectors", "", map[string]string{"Authorization": "Bearer " + e.secrets[api.RoleViewer]})
	var out struct{ Detectors []api.DetectorHealth }
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if len(out.Detectors) != 2 {
		t.Fatalf("detectors %+v, want ioc and sigma", out.Detectors)
	}
	ioc, sigma := out.Detectors[0], out.Detectors[1]
	if ioc.Detector != "ioc" || ioc.Precision != nil || ioc.Benign != 1 {
		t.Errorf("ioc %+v: want one benign verdict and no precision", ioc)
	}
	if sigma.Detector != "sigma" || sigma.Alerts != 3 || sigma.TruePositive != 1 || sigma.FalsePositive != 2 ||
		sigma.Precision == nil || *sigma.Precision < 0.333 || *sigma.Precision > 0.334 {
		t.Errorf("sigma %+v: want 3 alerts, 1 TP, 2 FP, precision 1/3", sigma)
	}
}

func TestAuditView(t *testing.T) {
	e := newSessionEnv(t)
	ctx := context.Background()
	var n int64
	_ = e.audit.Store().Range(ctx, 0, 0, func(audit.Record) error { n++; return nil }) // the seeded alert
	for i := range 6 {
		if _, err := e.audit.Record(ctx, audit.Change(ctx, audit.ActionPolicyChanged, "policy", string(rune('a'+i)), "", nil, "test")); err != nil {
			t.Fatal(err)
		}
	}
	n += 6
	admin := map[string]string{"Authorization": "Bearer " + e.secrets[api.RoleAdmin]}
	var seqs []int64
	cursor := ""
	for page := 0; page < 10; page++ {
		rec := e.do("GET", "/api/v1/audit?limit=3&cursor="+url.QueryEscape(cursor), "", admin)
		var out struct {
			Records []api.AuditRecord
			Next    string
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != 200 {
			t.Fatalf("page %d: %d %s", page, rec.Code, rec.Body)
		}
		for _, r := range out.Records {
			seqs = append(seqs, r.Seq)
		}
		if cursor = out.Next; cursor == "" {
			break
		}
	}
	if int64(len(seqs)) != n {
		t.Fatalf("paged through %d records %v, want %d", len(seqs), seqs, n)
	}
	for i, s := range seqs {
		if s != n-int64(i) {
			t.Fatalf("seqs %v, want newest first from %d down to 1", seqs, n)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?cursor=x", "?cursor=" + url.QueryEscape("MTA6YQ")} {
		if rec := e.do("GET", "/api/v1/audit"+q, "", admin); rec.Code != 400 {
			t.Errorf("GET /api/v1/audit%s: %d, want 400", q, rec.Code)
		}
	}
}
