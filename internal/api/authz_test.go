package api_test

import (
	"bufio"
	"context"
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
