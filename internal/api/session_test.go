package api_test

import (
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/api"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

type sessionEnv struct {
	h       http.Handler
	st      *sqlite.Store
	dir     string
	clock   *clock
	secrets map[string]string // role -> token secret
	ids     map[string]string // role -> token id
	audit   *audit.Log
}

// newSessionEnv is an API over a real SQLite store (with one alert, "a1")
// and a real audit log, with one token per role.
func newSessionEnv(t *testing.T) *sessionEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, dir, sqlite.Options{Audit: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	lg, err := audit.OpenLog(st.Audit(), filepath.Join(dir, audit.KeyFileName), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &sessionEnv{st: st, dir: dir, clock: &clock{now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)},
		secrets: map[string]string{}, ids: map[string]string{}, audit: lg}
	for _, r := range roles[1:] {
		secret, tok, err := api.NewToken("t-"+r, r, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		e.secrets[r], e.ids[r] = secret, tok.ID
	}
	sig := signal.Signal{ID: "s1", Detector: "sigma", Layer: signal.LayerRules, RuleID: "r1", Title: "Rule r1",
		Level: signal.LevelHigh, Score: 1, Time: e.clock.Now()}
	if _, _, err := st.RecordSignals(ctx, []signal.Signal{sig}, []string{"a1"}); err != nil {
		t.Fatal(err)
	}
	e.h = e.handler()
	return e
}

// handler is a new API over the environment's store: what a restarted
// server would serve (sessions come back from the store).
func (e *sessionEnv) handler() http.Handler {
	return api.NewHandler(api.Deps{Store: e.st, Sessions: e.st, Audit: e.audit, Now: e.clock.Now})
}

// do sends one request to the handler from 192.0.2.1 (or remote).
func (e *sessionEnv) do(method, path, body string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = "192.0.2.1:40000"
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// login logs in with the role's token and returns the cookie and CSRF token.
func (e *sessionEnv) login(t *testing.T, role string) (cookie *http.Cookie, csrf string) {
	t.Helper()
	rec := e.do("POST", "/api/v1/session", `{"token":"`+e.secrets[role]+`"}`, nil)
	if rec.Code != 200 {
		t.Fatalf("login as %s: %d %s", role, rec.Code, rec.Body)
	}
	var body api.Session
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Role != role || body.Name != "t-"+role || len(body.CSRF) < 40 {
		t.Fatalf("login body %+v", body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == api.SessionCookie {
			return c, body.CSRF
		}
	}
	t.Fatal("login set no session cookie")
	return nil, ""
}

func withCookie(c *http.Cookie, hdr map[string]string) map[string]string {
	out := map[string]string{"Cookie": c.Name + "=" + c.Value}
	for k, v := range hdr {
		out[k] = v
	}
	return out
}

func TestSessionLoginAndCookieFlags(t *testing.T) {
	e := newSessionEnv(t)
	c, csrf := e.login(t, api.RoleAnalyst)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
		t.Errorf("cookie over plain HTTP: HttpOnly %v SameSite %v Path %q Secure %v; want true Strict / false", c.HttpOnly, c.SameSite, c.Path, c.Secure)
	}
	if raw, _ := url.QueryUnescape(c.Value); len(raw) < 43 { // 256 bits in base64url
		t.Errorf("session id %d chars, want >= 43", len(raw))
	}
	// Over TLS the cookie is Secure.
	req := httptest.NewRequest("POST", "/api/v1/session", strings.NewReader(`{"token":"`+e.secrets[api.RoleViewer]+`"}`))
	req.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if cs := rec.Result().Cookies(); rec.Code != 200 || len(cs) != 1 || !cs[0].Secure || !cs[0].HttpOnly {
		t.Errorf("TLS login: %d, cookies %v; want one Secure HttpOnly cookie", rec.Code, cs)
	}
	// GET /api/v1/session returns the principal and the same CSRF token.
	rec = e.do("GET", "/api/v1/session", "", withCookie(c, nil))
	var got api.Session
	_ = json.Unmarshal(rec.Body.Bytes(), &got)
	if rec.Code != 200 || got.Role != api.RoleAnalyst || got.CSRF != csrf {
		t.Errorf("GET session: %d %+v", rec.Code, got)
	}
	// The secret is never echoed back.
	if strings.Contains(rec.Body.String(), e.secrets[api.RoleAnalyst]) {
		t.Error("session body contains the token secret")
	}
}

func TestSessionLoginRefused(t *testing.T) {
	e := newSessionEnv(t)
	for _, tc := range []struct {
		name, body string
		hdr        map[string]string
		want       int
	}{
		{"unknown token", `{"token":"rmp_nope"}`, nil, 401},
		{"empty token", `{"token":""}`, nil, 401},
		{"oversized token", `{"token":"` + strings.Repeat("x", 300) + `"}`, nil, 401},
		{"not JSON", `token=x`, nil, 400},
		{"unknown field", `{"token":"x","role":"admin"}`, nil, 400},
		{"ingest token", `{"token":"` + e.secrets[api.RoleIngest] + `"}`, nil, 403},
		{"foreign origin", `{"token":"` + e.secrets[api.RoleAdmin] + `"}`, map[string]string{"Origin": "https://evil.example"}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Add(time.Minute) // stay inside the login rate limit
			rec := e.do("POST", "/api/v1/session", tc.body, tc.hdr)
			if rec.Code != tc.want {
				t.Errorf("got %d %s, want %d", rec.Code, rec.Body, tc.want)
			}
			for _, c := range rec.Result().Cookies() {
				if c.Name == api.SessionCookie && c.Value != "" {
					t.Error("a refused login set a session cookie")
				}
			}
		})
	}
}

func TestSessionCSRF(t *testing.T) {
	e := newSessionEnv(t)
	c, csrf := e.login(t, api.RoleAnalyst)
	verdict := `{"verdict":"benign","reason":"test"}`
	wrong := csrf[:len(csrf)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(csrf, "A")]
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"no CSRF header", withCookie(c, nil), 403},
		{"wrong CSRF header", withCookie(c, map[string]string{"X-CSRF-Token": wrong}), 403},
		{"right CSRF, foreign Origin", withCookie(c, map[string]string{"X-CSRF-Token": csrf, "Origin": "http://evil.example"}), 403},
		{"right CSRF, null Origin", withCookie(c, map[string]string{"X-CSRF-Token": csrf, "Origin": "null"}), 403},
		{"right CSRF", withCookie(c, map[string]string{"X-CSRF-Token": csrf}), 200},
		{"right CSRF, same Origin", withCookie(c, map[string]string{"X-CSRF-Token": csrf, "Origin": "http://example.com"}), 200},
		{"bearer without CSRF", map[string]string{"Authorization": "Bearer " + e.secrets[api.RoleAnalyst]}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do("POST", "/api/v1/alerts/a1/verdict", verdict, tc.hdr)
			if rec.Code != tc.want {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tc.want)
			}
			if tc.want == 403 && !strings.Contains(rec.Body.String(), `"code":"csrf"`) {
				t.Errorf("403 body %s, want code csrf", rec.Body)
			}
		})
	}
	// Safe methods need no CSRF token.
	if rec := e.do("GET", "/api/v1/alerts/a1", "", withCookie(c, nil)); rec.Code != 200 {
		t.Errorf("GET with cookie: %d", rec.Code)
	}
	// Logout is a cookie-authenticated DELETE: CSRF applies too.
	if rec := e.do("DELETE", "/api/v1/session", "", withCookie(c, nil)); rec.Code != 403 {
		t.Errorf("logout without CSRF: %d, want 403", rec.Code)
	}
}

func TestSessionRoleStillApplies(t *testing.T) {
	e := newSessionEnv(t)
	c, csrf := e.login(t, api.RoleViewer)
	rec := e.do("POST", "/api/v1/alerts/a1/verdict", `{"verdict":"benign","reason":"x"}`, withCookie(c, map[string]string{"X-CSRF-Token": csrf}))
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), `"forbidden"`) {
		t.Errorf("viewer verdict via session: %d %s, want 403 forbidden", rec.Code, rec.Body)
	}
	if rec := e.do("GET", "/api/v1/audit", "", withCookie(c, nil)); rec.Code != 403 {
		t.Errorf("viewer audit via session: %d, want 403", rec.Code)
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newSessionEnv(t)
	get := func(c *http.Cookie) int { return e.do("GET", "/api/v1/session", "", withCookie(c, nil)).Code }

	// Idle timeout: use within 30 minutes keeps it alive; 30 minutes idle ends it.
	c, _ := e.login(t, api.RoleAnalyst)
	for range 3 {
		e.clock.Add(29 * time.Minute)
		if got := get(c); got != 200 {
			t.Fatalf("after 29 min idle: %d, want 200", got)
		}
	}
	e.clock.Add(30 * time.Minute)
	if got := get(c); got != 401 {
		t.Errorf("after 30 min idle: %d, want 401", got)
	}
	if got := get(c); got != 401 {
		t.Errorf("an expired session came back: %d", got)
	}

	// Absolute timeout: 12 h even when used every 20 minutes.
	e.clock.Add(time.Hour)
	c, _ = e.login(t, api.RoleAnalyst)
	elapsed := time.Duration(0)
	for elapsed+20*time.Minute < api.SessionAbsolute {
		e.clock.Add(20 * time.Minute)
		elapsed += 20 * time.Minute
		if got := get(c); got != 200 {
			t.Fatalf("after %v of use: %d, want 200", elapsed, got)
		}
	}
	e.clock.Add(api.SessionAbsolute - elapsed)
	if got := get(c); got != 401 {
		t.Errorf("after 12 h: %d, want 401", got)
	}
}

func TestSessionRevokedToken(t *testing.T) {
	e := newSessionEnv(t)
	c, _ := e.login(t, api.RoleAnalyst)
	if got := e.do("GET", "/api/v1/alerts", "", withCookie(c, nil)).Code; got != 200 {
		t.Fatalf("before revocation: %d", got)
	}
	// Delete the token row the way an operator would, behind the API's back.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, sqlite.FileName)+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM tokens WHERE id = ?`, e.ids[api.RoleAnalyst]); err != nil {
		t.Fatal(err)
	}
	rec := e.do("GET", "/api/v1/alerts", "", withCookie(c, nil))
	if rec.Code != 401 {
		t.Errorf("after revocation: %d, want 401", rec.Code)
	}
}

func TestSessionLogout(t *testing.T) {
	e := newSessionEnv(t)
	c, csrf := e.login(t, api.RoleAnalyst)
	rec := e.do("DELETE", "/api/v1/session", "", withCookie(c, map[string]string{"X-CSRF-Token": csrf}))
	if rec.Code != 204 {
		t.Fatalf("logout: %d %s", rec.Code, rec.Body)
	}
	if cs := rec.Result().Cookies(); len(cs) != 1 || cs[0].MaxAge >= 0 {
		t.Errorf("logout cookies %v, want the session cookie cleared", cs)
	}
	if got := e.do("GET", "/api/v1/session", "", withCookie(c, nil)).Code; got != 401 {
		t.Errorf("after logout: %d, want 401", got)
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newSessionEnv(t)
	// Successes and failures share the budget: 5 at once, then 429.
	for i := range 5 {
		body := `{"token":"rmp_wrong"}`
		if i%2 == 0 {
			body = `{"token":"` + e.secrets[api.RoleAnalyst] + `"}`
		}
		if rec := e.do("POST", "/api/v1/session", body, nil); rec.Code == 429 {
			t.Fatalf("attempt %d rate limited", i+1)
		}
	}
	rec := e.do("POST", "/api/v1/session", `{"token":"`+e.secrets[api.RoleAnalyst]+`"}`, nil)
	if rec.Code != 429 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("6th attempt: %d Retry-After %q, want 429 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Another address has its own budget.
	req := httptest.NewRequest("POST", "/api/v1/session", strings.NewReader(`{"token":"rmp_wrong"}`))
	req.RemoteAddr = "198.51.100.7:1234"
	other := httptest.NewRecorder()
	e.h.ServeHTTP(other, req)
	if other.Code != 401 {
		t.Errorf("other client: %d, want 401", other.Code)
	}
	// One attempt comes back every 12 s.
	e.clock.Add(12 * time.Second)
	if rec := e.do("POST", "/api/v1/session", `{"token":"rmp_wrong"}`, nil); rec.Code != 401 {
		t.Errorf("after 12 s: %d, want 401", rec.Code)
	}
	if rec := e.do("POST", "/api/v1/session", `{"token":"rmp_wrong"}`, nil); rec.Code != 429 {
		t.Errorf("second attempt after 12 s: %d, want 429", rec.Code)
	}
}

func TestLoginAudited(t *testing.T) {
	e := newSessionEnv(t)
	e.do("POST", "/api/v1/session", `{"token":"rmp_wrong_secret_value"}`, nil)
	c, csrf := e.login(t, api.RoleAdmin)
	e.do("DELETE", "/api/v1/session", "", withCookie(c, map[string]string{"X-CSRF-Token": csrf}))
	var got []audit.Record
	err := e.audit.Store().Range(context.Background(), 0, 0, func(r audit.Record) error {
		if strings.HasPrefix(r.Action, "session_") {
			got = append(got, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ action, actor string }{
		{api.ActionSessionLoginFailed, "client:192.0.2.1"},
		{api.ActionSessionLogin, "token:t-admin"},
		{api.ActionSessionLogout, "token:t-admin"},
	}
	if len(got) != len(want) {
		t.Fatalf("session audit records %+v, want %v", got, want)
	}
	for i, w := range want {
		if got[i].Action != w.action || got[i].Actor != w.actor {
			t.Errorf("record %d: %s by %s, want %s by %s", i, got[i].Action, got[i].Actor, w.action, w.actor)
		}
		if strings.Contains(got[i].Explanation, "rmp_") {
			t.Errorf("record %d explanation carries a secret: %q", i, got[i].Explanation)
		}
	}
	// The audit view and verification see the same chain.
	rec := e.do("GET", "/api/v1/audit/verify", "", map[string]string{"Authorization": "Bearer " + e.secrets[api.RoleAdmin]})
	var v api.AuditVerification
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || rec.Code != 200 || !v.OK || v.Records < 3 {
		t.Errorf("verify: %d %s", rec.Code, rec.Body)
	}
}

func TestSessionReplacedOnLogin(t *testing.T) {
	e := newSessionEnv(t)
	old, _ := e.login(t, api.RoleAnalyst)
	rec := e.do("POST", "/api/v1/session", `{"token":"`+e.secrets[api.RoleViewer]+`"}`, withCookie(old, nil))
	if rec.Code != 200 {
		t.Fatalf("second login: %d", rec.Code)
	}
	if got := e.do("GET", "/api/v1/session", "", withCookie(old, nil)).Code; got != 401 {
		t.Errorf("the replaced session still works: %d", got)
	}
}

// TestSessionSurvivesRestart: a session outlives the server that opened it
// (a new API over the same store honours the cookie and its CSRF token),
// its expiry still applies, and a logout ends it for every later server.
func TestSessionSurvivesRestart(t *testing.T) {
	e := newSessionEnv(t)
	c, csrf := e.login(t, api.RoleAnalyst)
	e.clock.Add(10 * time.Minute)
	e.h = e.handler() // restart
	rec := e.do("GET", "/api/v1/session", "", withCookie(c, nil))
	if rec.Code != 200 {
		t.Fatalf("after a restart: %d %s", rec.Code, rec.Body)
	}
	var body api.Session
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.CSRF != csrf || body.Role != api.RoleAnalyst {
		t.Fatalf("after a restart: %+v, %v; want the same role and CSRF token", body, err)
	}
	if got := e.do("POST", "/api/v1/alerts/a1/verdict", `{"verdict":"benign","reason":"known"}`,
		withCookie(c, map[string]string{"X-CSRF-Token": csrf})).Code; got != 200 {
		t.Errorf("an unsafe request with the stored CSRF token after a restart: %d", got)
	}
	if got := e.do("POST", "/api/v1/alerts/a1/verdict", `{"verdict":"benign","reason":"known"}`,
		withCookie(c, map[string]string{"X-CSRF-Token": "wrong"})).Code; got != 403 {
		t.Errorf("a wrong CSRF token after a restart: %d, want 403", got)
	}

	// Idle expiry across a restart.
	e.clock.Add(31 * time.Minute)
	e.h = e.handler()
	if got := e.do("GET", "/api/v1/session", "", withCookie(c, nil)).Code; got != 401 {
		t.Errorf("31 min idle across a restart: %d, want 401", got)
	}

	// Logout ends it for the next server too.
	c, csrf = e.login(t, api.RoleAnalyst)
	if got := e.do("DELETE", "/api/v1/session", "", withCookie(c, map[string]string{"X-CSRF-Token": csrf})).Code; got != 204 {
		t.Fatalf("logout: %d", got)
	}
	e.h = e.handler()
	if got := e.do("GET", "/api/v1/session", "", withCookie(c, nil)).Code; got != 401 {
		t.Errorf("a logged-out session after a restart: %d, want 401", got)
	}

	// Only the hash of the session id is stored, never the cookie value.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, sqlite.FileName)+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sessions WHERE id_hash = ? OR token_hash = ?`, c.Value, c.Value).Scan(&n); err != nil || n != 0 {
		t.Errorf("a cookie value found in the sessions table (%d rows, %v)", n, err)
	}
}

// TestSessionPurgeSparesLiveSessions: a session's stored last use lags its
// real one by up to a minute; another login's purge of expired sessions
// must not take a session still live in memory out of the store (it would
// be gone after a restart).
func TestSessionPurgeSparesLiveSessions(t *testing.T) {
	e := newSessionEnv(t)
	c, _ := e.login(t, api.RoleAnalyst)
	e.clock.Add(59 * time.Second)
	if got := e.do("GET", "/api/v1/session", "", withCookie(c, nil)).Code; got != 200 {
		t.Fatalf("used after 59 s: %d", got)
	}
	e.clock.Add(29*time.Minute + 30*time.Second) // 29 m 30 s idle, 30 m 29 s since the stored use
	e.login(t, api.RoleViewer)                   // purges expired sessions
	if got := e.do("GET", "/api/v1/session", "", withCookie(c, nil)).Code; got != 200 {
		t.Fatalf("used after 29 m 30 s idle: %d", got)
	}
	e.h = e.handler() // restart
	if got := e.do("GET", "/api/v1/session", "", withCookie(c, nil)).Code; got != 200 {
		t.Errorf("a live session purged from the store: %d after a restart", got)
	}
}
