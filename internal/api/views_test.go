package api_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/api"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
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

// TestAuditVerifyNamesTamperedRecord edits one stored record behind the
// API's back; /api/v1/audit/verify names it.
func TestAuditVerifyNamesTamperedRecord(t *testing.T) {
	e := newSessionEnv(t)
	ctx := context.Background()
	for i := range 4 {
		if _, err := e.audit.Record(ctx, audit.Change(ctx, audit.ActionPolicyChanged, "policy", strconv.Itoa(i), "", nil, "test")); err != nil {
			t.Fatal(err)
		}
	}
	admin := map[string]string{"Authorization": "Bearer " + e.secrets[api.RoleAdmin]}
	verify := func() api.AuditVerification {
		rec := e.do("GET", "/api/v1/audit/verify", "", admin)
		var v api.AuditVerification
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || rec.Code != 200 {
			t.Fatalf("verify: %d %s", rec.Code, rec.Body)
		}
		return v
	}
	if v := verify(); !v.OK || v.Problem != nil {
		t.Fatalf("untouched chain: %+v", v)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, sqlite.FileName)+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit_records SET explanation = 'nothing happened' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	if v := verify(); v.OK || v.Problem == nil || v.Problem.Seq != 3 {
		t.Errorf("tampered chain: %+v, want a problem at seq 3", v)
	}
}
