package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/api"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/privacy"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
)

// reidentifyServer is a real API over SQLite with the real privacy layer
// and audit log (as serve wires them), and a token per role.
func reidentifyServer(t *testing.T, cfg privacy.Config) (*httptest.Server, map[string]string, *privacy.Pseudonymizer, *sqlite.Store) {
	t.Helper()
	return reidentifyServerWith(t, cfg, api.Deps{})
}

// reidentifyServerWith is reidentifyServer with deps' Now and Logger.
func reidentifyServerWith(t *testing.T, cfg privacy.Config, deps api.Deps) (*httptest.Server, map[string]string, *privacy.Pseudonymizer, *sqlite.Store) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, dir, sqlite.Options{Audit: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log, err := audit.OpenLog(st.Audit(), filepath.Join(dir, audit.KeyFileName), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Deps = privacy.Deps{Mappings: privacy.NewMemoryMappings(), Audit: api.ReidentifyAudit(log)}
	p, err := privacy.New(cfg, privacy.NewMemoryKeyStore(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{}
	for _, r := range roles[1:] {
		secret, tok, err := api.NewToken("t-"+r, r, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		secrets[r] = secret
	}
	deps.Store, deps.Audit = st, log
	deps.Reidentify, deps.MayReidentify = api.PrivacyReidentify(p)
	srv := httptest.NewServer(api.NewHandler(deps))
	t.Cleanup(srv.Close)
	return srv, secrets, p, st
}

func postReidentify(t *testing.T, srv *httptest.Server, secret, pseudonym, reason string) (int, map[string]any) {
	t.Helper()
	code, _, out := postReidentifyHeader(t, srv, secret, pseudonym, reason)
	return code, out
}

func postReidentifyHeader(t *testing.T, srv *httptest.Server, secret, pseudonym, reason string) (int, http.Header, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"pseudonym": pseudonym, "reason": reason})
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/reidentify", bytes.NewReader(b))
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header, out
}

// reidentifyRecords returns the chain's "reidentified" records.
func reidentifyRecords(t *testing.T, st *sqlite.Store) []audit.Record {
	t.Helper()
	var out []audit.Record
	if err := st.Audit().Range(context.Background(), 0, 0, func(r audit.Record) error {
		if r.Action == audit.ActionReidentified {
			out = append(out, r)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReidentify(t *testing.T) {
	srv, secrets, p, st := reidentifyServer(t, privacy.Config{})
	ps := p.Value(privacy.KindUser, "alice.smith")
	tests := []struct {
		name, role, pseudonym, reason string
		status                        int
		value                         string
		outcome                       string // the audited outcome ("" when no record is expected)
	}{
		{name: "admin", role: api.RoleAdmin, pseudonym: ps, reason: "incident 42", status: 200, value: "alice.smith", outcome: "allowed"},
		{name: "admin unknown", role: api.RoleAdmin, pseudonym: "u_00000000000000000000", reason: "incident 42", status: 404, outcome: "not_found"},
		{name: "viewer", role: api.RoleViewer, pseudonym: ps, reason: "curious", status: 403, outcome: "denied"},
		{name: "analyst", role: api.RoleAnalyst, pseudonym: ps, reason: "triage", status: 403, outcome: "denied"},
		{name: "responder", role: api.RoleResponder, pseudonym: ps, reason: "containment", status: 403, outcome: "denied"},
		{name: "ingest", role: api.RoleIngest, pseudonym: ps, reason: "x", status: 403, outcome: "denied"},
		{name: "no token", role: "", pseudonym: ps, reason: "x", status: 401},
		{name: "no reason", role: api.RoleAdmin, pseudonym: ps, reason: "  ", status: 400},
		{name: "reason too long", role: api.RoleAdmin, pseudonym: ps, reason: strings.Repeat("r", 1025), status: 400},
		{name: "pseudonym with spaces", role: api.RoleAdmin, pseudonym: "u_1 OR 1", reason: "x", status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(reidentifyRecords(t, st))
			code, body := postReidentify(t, srv, secrets[tc.role], tc.pseudonym, tc.reason)
			if code != tc.status {
				t.Fatalf("status %d (%v), want %d", code, body, tc.status)
			}
			if got, _ := body["value"].(string); got != tc.value {
				t.Errorf("value %q, want %q", got, tc.value)
			}
			recs := reidentifyRecords(t, st)
			if tc.outcome == "" {
				if len(recs) != before {
					t.Errorf("%d audit records written, want none", len(recs)-before)
				}
				return
			}
			if len(recs) != before+1 {
				t.Fatalf("%d audit records written, want 1", len(recs)-before)
			}
			r := recs[len(recs)-1]
			if r.Actor != "token:t-"+tc.role || r.SubjectID != tc.pseudonym ||
				!strings.Contains(r.Explanation, tc.outcome) || !strings.Contains(r.Explanation, tc.reason) {
				t.Errorf("audit record %+v: want actor token:t-%s, pseudonym, outcome %s and the reason", r, tc.role, tc.outcome)
			}
			if strings.Contains(r.Explanation+r.SubjectID+r.Actor, "alice") {
				t.Errorf("audit record holds the original: %+v", r)
			}
		})
	}
}

// TestReidentifyConfiguredRoles: reidentify_roles decides, not the route.
func TestReidentifyConfiguredRoles(t *testing.T) {
	srv, secrets, p, _ := reidentifyServer(t, privacy.Config{ReidentifyRoles: []string{api.RoleAnalyst}})
	ps := p.Value(privacy.KindHost, "ws7.corp.lan")
	if code, body := postReidentify(t, srv, secrets[api.RoleAnalyst], ps, "case 9"); code != 200 || body["value"] != "ws7.corp.lan" {
		t.Errorf("analyst: %d %v; want the original", code, body)
	}
	if code, _ := postReidentify(t, srv, secrets[api.RoleAdmin], ps, "case 9"); code != 403 {
		t.Errorf("admin not in reidentify_roles: %d, want 403", code)
	}
}

// TestReidentifyNotConfigured: without the privacy layer the endpoint is
// absent for the allowed role and still forbidden for the others.
func TestReidentifyNotConfigured(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	secrets := map[string]string{}
	for _, r := range []string{api.RoleAdmin, api.RoleViewer} {
		secret, tok, _ := api.NewToken("t-"+r, r, time.Now())
		if err := st.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		secrets[r] = secret
	}
	srv := httptest.NewServer(api.NewHandler(api.Deps{Store: st}))
	defer srv.Close()
	if code, _ := postReidentify(t, srv, secrets[api.RoleAdmin], "u_1", "x"); code != 404 {
		t.Errorf("admin without privacy: %d, want 404", code)
	}
	if code, _ := postReidentify(t, srv, secrets[api.RoleViewer], "u_1", "x"); code != 403 {
		t.Errorf("viewer without privacy: %d, want 403", code)
	}
}

// TestReidentifyRateLimit: each token gets 10 calls a minute (burst 10),
// refused or not; past it the answer is 429 with Retry-After, nothing is
// audited, and the run of refusals is logged once.
func TestReidentifyRateLimit(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))
	srv, secrets, p, st := reidentifyServerWith(t, privacy.Config{}, api.Deps{Now: clock, Logger: logger})
	ps := p.Value(privacy.KindUser, "alice.smith")
	warnings := func() int {
		logMu.Lock()
		defer logMu.Unlock()
		return strings.Count(logs.String(), "re-identification rate limit reached")
	}

	for i := range 10 {
		if code, body := postReidentify(t, srv, secrets[api.RoleViewer], ps, "flood"); code != 403 {
			t.Fatalf("viewer call %d: %d %v, want 403 within the burst", i+1, code, body)
		}
	}
	if n := len(reidentifyRecords(t, st)); n != 10 {
		t.Fatalf("%d audit records after 10 refused calls, want 10", n)
	}
	for i := range 5 {
		code, hdr, body := postReidentifyHeader(t, srv, secrets[api.RoleViewer], ps, "flood")
		if code != http.StatusTooManyRequests || hdr.Get("Retry-After") != "6" {
			t.Fatalf("viewer call %d past the burst: %d Retry-After %q %v; want 429, 6", 11+i, code, hdr.Get("Retry-After"), body)
		}
		if e, _ := body["error"].(map[string]any); e["code"] != "rate_limited" {
			t.Errorf("error body %v, want code rate_limited", body)
		}
	}
	if n := len(reidentifyRecords(t, st)); n != 10 {
		t.Errorf("%d audit records after rate-limited calls, want still 10", n)
	}
	if w := warnings(); w != 1 {
		t.Errorf("%d rate-limit warnings for one run of refusals, want 1", w)
	}
	// Another token has its own budget.
	if code, body := postReidentify(t, srv, secrets[api.RoleAdmin], ps, "incident 7"); code != 200 || body["value"] != "alice.smith" {
		t.Errorf("admin while the viewer is limited: %d %v; want the original", code, body)
	}
	// One call's worth refills in 6 s, then the next run is logged again.
	advance(6 * time.Second)
	if code, _ := postReidentify(t, srv, secrets[api.RoleViewer], ps, "flood"); code != 403 {
		t.Errorf("viewer after 6 s: %d, want 403 (budget refilled by one)", code)
	}
	if code, _ := postReidentify(t, srv, secrets[api.RoleViewer], ps, "flood"); code != http.StatusTooManyRequests {
		t.Errorf("viewer's second call after 6 s: %d, want 429", code)
	}
	if n := len(reidentifyRecords(t, st)); n != 12 {
		t.Errorf("%d audit records, want 12 (10 + admin + one refilled)", n)
	}
	if w := warnings(); w != 2 {
		t.Errorf("%d rate-limit warnings after a second run, want 2", w)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
