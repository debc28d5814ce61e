package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/api"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
)

var roles = []string{"", api.RoleViewer, api.RoleAnalyst, api.RoleResponder, api.RoleAdmin, api.RoleIngest}

type expectation struct {
	method, path string
	want         []string // per role, in the order of roles
}

func readMatrix(t *testing.T) []expectation {
	t.Helper()
	f, err := os.Open("testdata/authz.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []expectation
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Fields(line)
		if len(cols) != 2+len(roles) {
			t.Fatalf("authz.txt: bad line %q", line)
		}
		out = append(out, expectation{method: cols[0], path: cols[1], want: cols[2:]})
	}
	return out
}

// TestAuthorizationMatrix checks every route × role × no token against the
// hand-written matrix, and fails on a route the matrix does not list.
func TestAuthorizationMatrix(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
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
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	deps := api.Deps{Store: st, Ingest: ok, Metrics: ok, Reload: func(context.Context) error { return nil }}
	srv := httptest.NewServer(api.NewHandler(deps))
	defer srv.Close()

	matrix := readMatrix(t)
	listed := map[string]bool{}
	for _, e := range matrix {
		listed[e.method+" "+e.path] = true
	}
	for _, rt := range api.Routes(deps) {
		if !listed[rt.Method+" "+rt.Pattern] {
			t.Errorf("route %s %s is not in testdata/authz.txt", rt.Method, rt.Pattern)
		}
	}
	for _, e := range matrix {
		for i, role := range roles {
			path := strings.ReplaceAll(e.path, "{id}", "0123456789abcdef")
			path = strings.TrimSuffix(path, "{$}") // "/{$}" matches exactly "/"
			req, _ := http.NewRequest(e.method, srv.URL+path, strings.NewReader(""))
			if role != "" {
				req.Header.Set("Authorization", "Bearer "+secrets[role])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.StatusCode
			want := e.want[i]
			name := e.method + " " + e.path + " as " + map[bool]string{true: "no token", false: role}[role == ""]
			if want == "ok" {
				if got == 401 || got == 403 {
					t.Errorf("%s: got %d, want access", name, got)
				}
				continue
			}
			w, _ := strconv.Atoi(want)
			if got != w {
				t.Errorf("%s: got %d, want %d", name, got, w)
			}
		}
	}
}

func TestInvalidTokenRejected(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := api.NewHandler(api.Deps{Store: st})
	for _, hdr := range []string{"", "Bearer ", "Bearer rmp_nope", "Basic YWRtaW46YWRtaW4=", "Bearer " + strings.Repeat("x", 5000)} {
		req := httptest.NewRequest("GET", "/api/v1/alerts", nil)
		if hdr != "" {
			req.Header.Set("Authorization", hdr)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 401 {
			t.Errorf("Authorization %q: got %d, want 401", hdr[:min(len(hdr), 30)], rec.Code)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Error("security headers missing")
		}
	}
}

// TestAuthorizationMatrixSessions runs the same hand-written matrix with
// console session cookies instead of bearer tokens: with the CSRF token a
// session may do exactly what its token may; without it every unsafe
// method on a guarded route is 403. Ingest tokens cannot log in.
func TestAuthorizationMatrixSessions(t *testing.T) {
	e := newSessionEnv(t)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	h := api.NewHandler(api.Deps{Store: e.st, Audit: e.audit, Ingest: ok, Metrics: ok, Reload: func(context.Context) error { return nil }, Now: e.clock.Now})
	type sess struct {
		cookie *http.Cookie
		csrf   string
	}
	sessions := map[string]sess{}
	for _, role := range roles[1:] {
		e.clock.Add(time.Minute) // stay inside the login rate limit
		req := httptest.NewRequest("POST", "/api/v1/session", strings.NewReader(`{"token":"`+e.secrets[role]+`"}`))
		req.RemoteAddr = "192.0.2.10:1000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if role == api.RoleIngest {
			if rec.Code != 403 {
				t.Errorf("ingest login: %d, want 403", rec.Code)
			}
			continue
		}
		var body api.Session
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		cs := rec.Result().Cookies()
		if rec.Code != 200 || len(cs) != 1 || body.CSRF == "" {
			t.Fatalf("login as %s: %d %s", role, rec.Code, rec.Body)
		}
		sessions[role] = sess{cs[0], body.CSRF}
	}
	checked := 0
	for _, m := range readMatrix(t) {
		if m.path == "/api/v1/session" && m.method == "DELETE" {
			continue // logging out would end the session the next rows use; TestSessionLogout covers it
		}
		for i, role := range roles {
			s, ok := sessions[role]
			if !ok {
				continue
			}
			path := strings.TrimSuffix(strings.ReplaceAll(m.path, "{id}", "0123456789abcdef"), "{$}")
			for _, withCSRF := range []bool{true, false} {
				req := httptest.NewRequest(m.method, path, strings.NewReader(""))
				req.RemoteAddr = "192.0.2.99:1"
				req.AddCookie(s.cookie)
				if withCSRF {
					req.Header.Set("X-CSRF-Token", s.csrf)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				checked++
				got, want := rec.Code, m.want[i]
				name := m.method + " " + m.path + " as " + role + " session"
				guarded := m.want[0] == "401"
				switch {
				case m.method == "POST" && m.path == "/api/v1/tokens":
					// Sessions never mint tokens (TestSessionCannotMintTokens).
					if got != 403 {
						t.Errorf("%s: got %d, want 403 for every session", name, got)
					}
				case !withCSRF && guarded && m.method != "GET":
					if got != 403 || !strings.Contains(rec.Body.String(), `"csrf"`) {
						t.Errorf("%s without CSRF: got %d %s, want 403 csrf", name, got, rec.Body)
					}
				case want == "ok":
					if got == 401 || got == 403 {
						t.Errorf("%s: got %d %s, want access", name, got, rec.Body)
					}
				default:
					if w, _ := strconv.Atoi(want); got != w {
						t.Errorf("%s: got %d, want %d", name, got, w)
					}
				}
			}
		}
	}
	if checked < 4*2*len(readMatrix(t))-8 {
		t.Fatalf("only %d session requests checked", checked)
	}
}
