package api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rampart-ids/rampart/internal/api"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/console"
	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
)

// Findings of the security review of the API and the console sessions,
// each pinned by a test that failed before its fix.

// TestLoginRefusesFormBodies: a cross-site page can POST a form (urlencoded,
// multipart or text/plain) as a top-level navigation without a CORS
// preflight, and a text/plain form body can be valid JSON
// (name `{"token":"x` + "=" + value `","token":"<secret>"}`). A browser
// that sends no Origin would then log the victim into the attacker's
// session (login CSRF). Only JSON bodies may log in.
func TestLoginRefusesFormBodies(t *testing.T) {
	e := newSessionEnv(t)
	forged := `{"token":"x=","token":"` + e.secrets[api.RoleAnalyst] + `"}` + "\r\n"
	for _, tc := range []struct {
		name, ctype string
		want        int
	}{
		{"text/plain form", "text/plain", 415},
		{"urlencoded form", "application/x-www-form-urlencoded", 415},
		{"multipart form", "multipart/form-data; boundary=x", 415},
		{"malformed type", "application/json; =", 415},
		{"JSON", "application/json", 200},
		{"JSON with charset", "application/json; charset=utf-8", 200},
		{"no Content-Type (non-browser client)", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Add(time.Minute) // stay inside the login rate limit
			var hdr map[string]string
			if tc.ctype != "" {
				hdr = map[string]string{"Content-Type": tc.ctype}
			}
			rec := e.do("POST", "/api/v1/session", forged, hdr)
			if rec.Code != tc.want {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tc.want)
			}
			if tc.want != 200 {
				if len(rec.Result().Cookies()) != 0 {
					t.Error("a refused login set a cookie")
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("error Content-Type %q", ct)
				}
			}
		})
	}
}

// TestLoginRateLimitIPv6Prefix: one IPv6 client usually holds a whole /64,
// so keying the login budget by full address gave it 2^64 budgets.
func TestLoginRateLimitIPv6Prefix(t *testing.T) {
	e := newSessionEnv(t)
	try := func(remote string) int {
		req := httptest.NewRequest("POST", "/api/v1/session", strings.NewReader(`{"token":"rmp_wrong"}`))
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		return rec.Code
	}
	for i := 1; i <= 5; i++ {
		if got := try(fmt.Sprintf("[2001:db8:1:2::%x]:4000", i)); got != 401 {
			t.Fatalf("attempt %d: %d, want 401", i, got)
		}
	}
	for _, tc := range []struct {
		remote string
		want   int
	}{
		{"[2001:db8:1:2:ffff:ffff:ffff:ffff]:4000", 429}, // same /64
		{"[2001:db8:1:3::1]:4000", 401},                  // next /64: its own budget
	} {
		if got := try(tc.remote); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.remote, got, tc.want)
		}
	}
	// An IPv4 client seen through a dual-stack socket is the same client.
	for i := 0; i < 5; i++ {
		try("192.0.2.77:4000")
	}
	if got := try("[::ffff:192.0.2.77]:4000"); got != 429 {
		t.Errorf("IPv4-mapped address of an exhausted client: %d, want 429", got)
	}
}

// TestTokenNameRefused: token names become audit actors ("token:<name>")
// and log fields; control and bidi/format characters or surrounding
// spaces would let an admin mint a token whose name reads as another's.
func TestTokenNameRefused(t *testing.T) {
	e := newSessionEnv(t)
	admin := map[string]string{"Authorization": "Bearer " + e.secrets[api.RoleAdmin]}
	for _, tc := range []struct {
		name string
		want int
	}{
		{"ci-runner 1", 201},
		{"évaluation", 201},
		{"evil\nt-admin", 400},
		{"nul\u0000", 400},
		{"t-admin\u202e", 400}, // right-to-left override
		{"zero\u200bwidth", 400},
		{" t-admin", 400},
		{"t-admin ", 400},
	} {
		body, _ := json.Marshal(map[string]string{"name": tc.name, "role": "viewer"})
		rec := e.do("POST", "/api/v1/tokens", string(body), admin)
		if rec.Code != tc.want {
			t.Errorf("name %q: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.want)
		}
	}
	for _, name := range []string{"bad\tname", "\xff\xfe", ""} {
		if _, _, err := api.NewToken(name, api.RoleViewer, time.Now()); err == nil {
			t.Errorf("NewToken (used by the CLI) accepted the name %q", name)
		}
	}
}

// TestIngestRateLimit: the per-token ingest limit (untested before) allows
// a burst of 2× the rate as documented, answers 429 with a Retry-After
// that says when the next request may come, keeps tokens apart and runs
// on the server's clock.
func TestIngestRateLimit(t *testing.T) {
	e := newSessionEnv(t)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	h := api.NewHandler(api.Deps{Store: e.st, Ingest: ok, IngestRate: 0.2, Now: e.clock.Now}) // one per 5 s, burst 2× = 1
	post := func(role string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/api/v1/events", strings.NewReader("{}\n"))
		req.Header.Set("Authorization", "Bearer "+e.secrets[role])
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if got := post(api.RoleIngest).Code; got != 202 {
		t.Fatalf("first request: %d", got)
	}
	rec := post(api.RoleIngest)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "5" || !strings.Contains(rec.Body.String(), `"rate_limited"`) {
		t.Fatalf("second request: %d Retry-After %q %s, want 429, 5, rate_limited", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if got := post(api.RoleAdmin).Code; got != 202 {
		t.Errorf("another token: %d, want its own budget", got)
	}
	e.clock.Add(5 * time.Second)
	if got := post(api.RoleIngest).Code; got != 202 {
		t.Errorf("after 5 s: %d, want 202", got)
	}

	h = api.NewHandler(api.Deps{Store: e.st, Ingest: ok, IngestRate: 2, Now: e.clock.Now}) // burst 4
	for i := range 4 {
		if got := post(api.RoleIngest).Code; got != 202 {
			t.Fatalf("burst request %d: %d", i+1, got)
		}
	}
	if rec := post(api.RoleIngest); rec.Code != 429 || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("5th request at rate 2/s: %d Retry-After %q, want 429 after a burst of 4", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// TestForbiddenLogged: an authenticated caller trying an endpoint above its
// role is a security event an operator must be able to find; it was
// answered 403 and recorded nowhere.
func TestForbiddenLogged(t *testing.T) {
	e := newSessionEnv(t)
	var buf bytes.Buffer
	h := api.NewHandler(api.Deps{Store: e.st, Audit: e.audit, Now: e.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	req := httptest.NewRequest("POST", "/api/v1/tokens", strings.NewReader(`{"name":"x","role":"admin"}`))
	req.Header.Set("Authorization", "Bearer "+e.secrets[api.RoleViewer])
	req.RemoteAddr = "192.0.2.5:1"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(context.Background()))
	if rec.Code != 403 {
		t.Fatalf("viewer creating a token: %d", rec.Code)
	}
	log := buf.String()
	for _, want := range []string{`"level":"WARN"`, `"token_name":"t-viewer"`, `"role":"viewer"`, `"path":"/api/v1/tokens"`, `"client":"192.0.2.5"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log %q lacks %s", log, want)
		}
	}
	if strings.Contains(log, e.secrets[api.RoleViewer]) {
		t.Error("the log carries the token secret")
	}
}

// TestSecurityHeadersOnEveryResponse: every kind of answer (success,
// errors, redirects, the console's files and its 404, another handler's
// body) carries the security headers, API answers are JSON, the console
// keeps its own CSP, and HSTS is sent over TLS only.
func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	e := newSessionEnv(t)
	ingest := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte("{}\n"))
	})
	h := api.NewHandler(api.Deps{Store: e.st, Audit: e.audit, Now: e.clock.Now, Console: console.Handler(), Ingest: ingest})
	viewer := "Bearer " + e.secrets[api.RoleViewer]
	for _, tc := range []struct {
		name, method, path, auth string
		status                   int
		json, console            bool
	}{
		{"health", "GET", "/healthz", "", 200, true, false},
		{"list", "GET", "/api/v1/alerts", viewer, 200, true, false},
		{"unknown path", "GET", "/nope", "", 404, true, false},
		{"unknown method", "PUT", "/api/v1/alerts", viewer, 404, true, false},
		{"unknown alert", "GET", "/api/v1/alerts/zzz", viewer, 404, true, false},
		{"no token", "GET", "/api/v1/alerts", "", 401, true, false},
		{"HEAD no token", "HEAD", "/api/v1/audit", "", 401, true, false},
		{"forbidden", "GET", "/api/v1/audit", viewer, 403, true, false},
		{"bad parameter", "GET", "/api/v1/alerts?limit=0", viewer, 400, true, false},
		{"unclean path", "GET", "/api/v1//alerts", "", 307, false, false},
		{"root", "GET", "/", "", 302, false, false},
		{"ingest handler", "POST", "/api/v1/events", "Bearer " + e.secrets[api.RoleIngest], 202, true, false},
		{"console", "GET", "/console/", "", 200, false, true},
		{"console script", "GET", "/console/app.js", "", 200, false, true},
		{"console 404", "GET", "/console/nope", "", 404, false, true},
	} {
		for _, overTLS := range []bool{false, true} {
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader("{}"))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			if overTLS {
				req.TLS = &tls.ConnectionState{}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			hd := rec.Header()
			name := fmt.Sprintf("%s (TLS %v)", tc.name, overTLS)
			if rec.Code != tc.status {
				t.Errorf("%s: status %d, want %d", name, rec.Code, tc.status)
			}
			for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
				"Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
				"Cross-Origin-Resource-Policy": "same-origin", "Cross-Origin-Opener-Policy": "same-origin"} {
				if k == "Cache-Control" && tc.name == "console 404" {
					continue // http.FileServer drops it on errors; a public 404 holds nothing to keep
				}
				if got := hd.Get(k); got != v {
					t.Errorf("%s: %s %q, want %q", name, k, got, v)
				}
			}
			csp := hd.Get("Content-Security-Policy")
			if tc.console && csp != console.CSP || !tc.console && csp != "default-src 'none'; frame-ancestors 'none'" {
				t.Errorf("%s: CSP %q", name, csp)
			}
			if hsts := hd.Get("Strict-Transport-Security"); (hsts != "") != overTLS {
				t.Errorf("%s: HSTS %q", name, hsts)
			}
			if ct := hd.Get("Content-Type"); tc.json && ct != "application/json" {
				t.Errorf("%s: Content-Type %q, want application/json", name, ct)
			}
		}
	}
}

// TestNoAuthBypassByPathOrMethod sends raw request lines (no client-side
// cleaning) that try to reach an admin route as a viewer or with no
// token: path tricks answer 404 or a redirect to the clean path (which is
// guarded again), never the route; override headers change nothing; a
// token in the query string is not a credential.
func TestNoAuthBypassByPathOrMethod(t *testing.T) {
	e := newSessionEnv(t)
	srv := httptest.NewServer(api.NewHandler(api.Deps{Store: e.st, Audit: e.audit, Now: e.clock.Now, Console: console.Handler()}))
	defer srv.Close()
	viewer := "Bearer " + e.secrets[api.RoleViewer]
	admin := e.secrets[api.RoleAdmin]
	send := func(method, target, auth string, hdr ...string) (int, string) {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		req := method + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n"
		if auth != "" {
			req += "Authorization: " + auth + "\r\n"
		}
		for _, h := range hdr {
			req += h + "\r\n"
		}
		if _, err := c.Write([]byte(req + "\r\n")); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Location")
	}
	for _, auth := range []string{"", viewer} {
		for _, target := range []string{
			"/api/v1/audit", "//api/v1/audit", "/api/v1//audit", "/api/v1/./audit", "/api/v1/x/../audit",
			"/console/../api/v1/audit", "/console/%2e%2e/api/v1/audit", "/api/v1/%61udit", "/api/v1/audit%2f",
			"/api/v1/audit/", "/API/v1/audit", "/api/v1/audit;x", "/api/v1/audit?x=/healthz", "/console/..%2fapi/v1/audit",
		} {
			for _, method := range []string{"GET", "HEAD", "OPTIONS"} {
				code, loc := send(method, target, auth)
				switch {
				case code == 200 || code == 204:
					t.Errorf("%s %s (token %v): %d, the admin route answered", method, target, auth != "", code)
				case code >= 300 && code < 400 && (loc == "" || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//")):
					t.Errorf("%s %s: redirect to %q leaves the server", method, target, loc)
				}
			}
		}
	}
	for _, hdr := range []string{"X-HTTP-Method-Override: GET", "X-HTTP-Method: GET", "X-Method-Override: GET", "X-Original-URL: /healthz", "X-Rewrite-URL: /healthz"} {
		if code, _ := send("POST", "/api/v1/tokens", viewer, hdr); code != 403 {
			t.Errorf("viewer POST /api/v1/tokens with %s: %d, want 403", hdr, code)
		}
		if code, _ := send("POST", "/api/v1/rules/reload", "", hdr); code != 401 {
			t.Errorf("anonymous reload with %s: %d, want 401", hdr, code)
		}
	}
	for _, q := range []string{"access_token", "token", "bearer", "api_key"} {
		if code, _ := send("GET", "/api/v1/audit?"+q+"="+admin, ""); code != 401 {
			t.Errorf("token in ?%s: %d, want 401", q, code)
		}
	}
	if code, _ := send("GET", "/api/v1/audit", "bearer "+admin); code != 401 {
		t.Errorf("lower-case scheme: %d (accepted or not, it must not be a different path)", code)
	}
}

// TestSessionFixation: a session id the client picks is never accepted,
// and a login issues a fresh id even when the browser presents one.
func TestSessionFixation(t *testing.T) {
	e := newSessionEnv(t)
	planted := &http.Cookie{Name: api.SessionCookie, Value: "attacker-chosen-session-id-0123456789abcdef"}
	if rec := e.do("GET", "/api/v1/session", "", withCookie(planted, nil)); rec.Code != 401 {
		t.Fatalf("planted session id: %d, want 401", rec.Code)
	}
	rec := e.do("POST", "/api/v1/session", `{"token":"`+e.secrets[api.RoleAnalyst]+`"}`, withCookie(planted, nil))
	cs := rec.Result().Cookies()
	if rec.Code != 200 || len(cs) != 1 || cs[0].Value == planted.Value || cs[0].Value == "" {
		t.Fatalf("login with a planted cookie: %d %v", rec.Code, cs)
	}
	if rec := e.do("GET", "/api/v1/session", "", withCookie(planted, nil)); rec.Code != 401 {
		t.Errorf("planted id after the victim's login: %d, want 401", rec.Code)
	}
	// A second login gets another id (no reuse of the analyst's first one).
	e.clock.Add(time.Minute)
	rec2 := e.do("POST", "/api/v1/session", `{"token":"`+e.secrets[api.RoleAnalyst]+`"}`, nil)
	if c2 := rec2.Result().Cookies(); len(c2) != 1 || c2[0].Value == cs[0].Value {
		t.Errorf("two logins share a session id")
	}
}

// TestIngestInFlightBounded: each ingest request holds its whole body
// (up to http.max_body_bytes, 32 MiB by default, and a buffer sized from
// the declared Content-Length) while the pipeline may block it for
// seconds; with no bound, one ingest token's concurrent requests could
// exhaust memory. Past MaxIngestInFlight the answer is 503 with
// Retry-After, the same backpressure answer as a full pipeline.
func TestIngestInFlightBounded(t *testing.T) {
	e := newSessionEnv(t)
	entered, release := make(chan struct{}), make(chan struct{})
	blocking := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusAccepted)
	})
	const limit = 3
	h := api.NewHandler(api.Deps{Store: e.st, Ingest: blocking, MaxIngestInFlight: limit, Now: e.clock.Now})
	post := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/api/v1/events", strings.NewReader("{}\n"))
		req.Header.Set("Authorization", "Bearer "+e.secrets[api.RoleIngest])
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	done := make(chan int, limit)
	for range limit {
		go func() { done <- post().Code }()
		<-entered
	}
	rec := post()
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"ingest_unavailable"`) {
		t.Errorf("request past the in-flight bound: %d Retry-After %q %s, want 503 ingest_unavailable", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	close(release)
	for range limit {
		if code := <-done; code != 202 {
			t.Errorf("in-flight request: %d", code)
		}
	}
	go func() { <-entered }()
	if got := post().Code; got != 202 {
		t.Errorf("after the others finished: %d, want 202", got)
	}
}

// TestSessionCannotMintTokens: a console session lives at most 12 hours and
// the console has no token page; letting a session (or a script riding
// one) create API tokens would turn it into a permanent credential.
// Tokens are created with an admin API token only.
func TestSessionCannotMintTokens(t *testing.T) {
	e := newSessionEnv(t)
	c, csrf := e.login(t, api.RoleAdmin)
	rec := e.do("POST", "/api/v1/tokens", `{"name":"persist","role":"admin"}`, withCookie(c, map[string]string{"X-CSRF-Token": csrf}))
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), `"forbidden"`) || strings.Contains(rec.Body.String(), "rmp_") {
		t.Fatalf("admin session creating a token: %d %s, want 403 forbidden", rec.Code, rec.Body)
	}
	rec = e.do("POST", "/api/v1/tokens", `{"name":"persist","role":"admin"}`, map[string]string{"Authorization": "Bearer " + e.secrets[api.RoleAdmin]})
	if rec.Code != 201 {
		t.Errorf("admin token creating a token: %d %s, want 201", rec.Code, rec.Body)
	}
}

// TestLoginRateLimitLogged: a client running out of login attempts (a
// token-guessing run) was answered 429 and recorded nowhere. It is logged
// once when the budget runs out, not once per refused attempt, so a
// flood cannot flood the log.
func TestLoginRateLimitLogged(t *testing.T) {
	e := newSessionEnv(t)
	var buf bytes.Buffer
	h := api.NewHandler(api.Deps{Store: e.st, Now: e.clock.Now, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	try := func() int {
		req := httptest.NewRequest("POST", "/api/v1/session", strings.NewReader(`{"token":"rmp_guess"}`))
		req.RemoteAddr = "203.0.113.9:5000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for range 5 {
		try()
	}
	for range 20 {
		if got := try(); got != 429 {
			t.Fatalf("attempt past the budget: %d", got)
		}
	}
	if n := strings.Count(buf.String(), "login rate limit reached"); n != 1 {
		t.Fatalf("rate-limit log lines after one run: %d, want 1\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), `"client":"203.0.113.9"`) {
		t.Errorf("log lacks the client: %s", buf.String())
	}
	// A new run after the budget came back is logged again.
	e.clock.Add(12 * time.Second)
	try()
	try()
	if n := strings.Count(buf.String(), "login rate limit reached"); n != 2 {
		t.Errorf("rate-limit log lines after a second run: %d, want 2", n)
	}
}

// TestJSONBodyTrailingData: a body is one JSON value. Anything after it
// was ignored, so a proxy or filter that reads the whole body saw a
// different request than the handler acted on.
func TestJSONBodyTrailingData(t *testing.T) {
	e := newSessionEnv(t)
	analyst := map[string]string{"Authorization": "Bearer " + e.secrets[api.RoleAnalyst]}
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"verdict":"benign","reason":"r"}`, 200},
		{`{"verdict":"benign","reason":"r"}` + "\n\t ", 200},
		{`{"verdict":"benign","reason":"r"}{"verdict":"true_positive","reason":"r"}`, 400},
		{`{"verdict":"benign","reason":"r"} x`, 400},
		{`{"verdict":"benign","reason":"r"}]`, 400},
	} {
		if rec := e.do("POST", "/api/v1/alerts/a1/verdict", tc.body, analyst); rec.Code != tc.want {
			t.Errorf("%q: %d %s, want %d", tc.body, rec.Code, rec.Body, tc.want)
		}
	}
}

// cancelAfterLookup is the store with the request's context cancelled
// right after the token lookup: a client that half-closes its connection
// once the request is sent.
type cancelAfterLookup struct {
	*sqlite.Store
	cancel context.CancelFunc
}

func (c cancelAfterLookup) TokenByHash(ctx context.Context, hash string) (store.Token, error) {
	t, err := c.Store.TokenByHash(ctx, hash)
	c.cancel()
	return t, err
}

// TestAuditSurvivesClientDisconnect: security records were written with
// the request's context, so a client that went away mid-request (a
// half-closed connection still reads the answer) got a session, or a
// rule reload, with no audit record.
func TestAuditSurvivesClientDisconnect(t *testing.T) {
	e := newSessionEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := api.NewHandler(api.Deps{Store: cancelAfterLookup{e.st, cancel}, Audit: e.audit, Now: e.clock.Now})
	req := httptest.NewRequest("POST", "/api/v1/session", strings.NewReader(`{"token":"`+e.secrets[api.RoleAnalyst]+`"}`)).WithContext(ctx)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	logins := 0
	_ = e.audit.Store().Range(context.Background(), 0, 0, func(r audit.Record) error {
		if r.Action == api.ActionSessionLogin {
			logins++
		}
		return nil
	})
	if logins != 1 {
		t.Errorf("a login whose client went away left %d audit records, want 1", logins)
	}
	// A reload is not cut short (nor left unaudited) by the client going away.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	req = httptest.NewRequest("POST", "/api/v1/rules/reload", nil).WithContext(ctx2)
	req.Header.Set("Authorization", "Bearer "+e.secrets[api.RoleAdmin])
	rec = httptest.NewRecorder()
	reloadErr := errors.New("reload not called")
	api.NewHandler(api.Deps{Store: cancelAfterLookup{e.st, cancel2},
		Reload: func(ctx context.Context) error { reloadErr = ctx.Err(); return nil }}).ServeHTTP(rec, req)
	if rec.Code != 200 || reloadErr != nil {
		t.Errorf("reload after the client left: %d, reload context error %v, want 200 and a live context", rec.Code, reloadErr)
	}
}

// TestCSRFEdgeCases: an empty header, another session's CSRF token, or a
// same-host Referer without the token are all refused; the token is bound
// to its session.
func TestCSRFEdgeCases(t *testing.T) {
	e := newSessionEnv(t)
	c, csrf := e.login(t, api.RoleAnalyst)
	e.clock.Add(time.Minute)
	_, otherCSRF := e.login(t, api.RoleResponder)
	verdict := `{"verdict":"benign","reason":"test"}`
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"empty CSRF header", withCookie(c, map[string]string{"X-CSRF-Token": ""}), 403},
		{"another session's CSRF token", withCookie(c, map[string]string{"X-CSRF-Token": otherCSRF}), 403},
		{"same-host Referer, no token", withCookie(c, map[string]string{"Referer": "http://example.com/console/"}), 403},
		{"token in a form field, not the header", withCookie(c, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}), 403},
		{"right token, foreign Referer, no Origin", withCookie(c, map[string]string{"X-CSRF-Token": csrf, "Referer": "http://evil.example/"}), 200},
	} {
		body := verdict
		if strings.HasPrefix(tc.name, "token in a form") {
			body = "csrf=" + csrf
		}
		if rec := e.do("POST", "/api/v1/alerts/a1/verdict", body, tc.hdr); rec.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.want)
		}
	}
}

// TestReloadErrorCutAtCharacter: a long reload error (a rule file path or
// message in any script) is cut to its limit on a character boundary, so
// the JSON answer never carries half a UTF-8 sequence.
func TestReloadErrorCutAtCharacter(t *testing.T) {
	e := newSessionEnv(t)
	long := strings.Repeat("a", 1999) + strings.Repeat("é", 10) // 'é' straddles byte 2000
	req := httptest.NewRequest("POST", "/api/v1/rules/reload", nil)
	req.Header.Set("Authorization", "Bearer "+e.secrets[api.RoleAdmin])
	rec := httptest.NewRecorder()
	api.NewHandler(api.Deps{Store: e.st, Reload: func(context.Context) error { return errors.New(long) }}).ServeHTTP(rec, req)
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("reload answer %d, want 422", rec.Code)
	}
	var body struct {
		Error struct{ Message string } `json:"error"`
	}
	raw := rec.Body.Bytes()
	if !utf8.Valid(raw) {
		t.Fatalf("reload error answer is not valid UTF-8: ...%q", raw[len(raw)-20:])
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsRune(body.Error.Message, utf8.RuneError) || !strings.HasSuffix(body.Error.Message, "a") {
		t.Errorf("message tail %q: want it cut before the straddling character", body.Error.Message[len(body.Error.Message)-8:])
	}
}
