package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/api"
	"github.com/rampart-ids/rampart/internal/config"
	"github.com/rampart-ids/rampart/internal/store/postgres/pgtest"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// TestServeOnPostgres runs serve on the PostgreSQL store over a file of
// real sshd lines, then restarts it: the brute-force alerts are raised once
// (the restart re-reads nothing into new alerts or counts), a console
// session opened before the restart still works after it, and the
// detectors resume from the checkpoint written at shutdown.
func TestServeOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	src, err := os.ReadFile(filepath.Join(testutil.SharedData(t, "loghub-2k"), "OpenSSH", "OpenSSH_2k.log"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "auth.log")
	if err := os.WriteFile(logPath, src, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Store.Driver, cfg.Store.DSN = "postgres", config.Secret(dsn)
	cfg.Time.Year = 2017
	cfg.Files = []config.FileInput{{Name: "sshd", Paths: []string{logPath}, Format: "auth"}}

	type alertSum struct {
		ID    string `json:"id"`
		Count int    `json:"count"`
	}
	call := func(base, method, path, token string, cookie *http.Cookie, body string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if cookie != nil {
			req.AddCookie(cookie)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	alerts := func(base, token string) map[string]int {
		t.Helper()
		_, b := call(base, "GET", "/api/v1/alerts?rule_id=ssh-brute-force&limit=500", token, nil, "")
		var page struct {
			Alerts []alertSum `json:"alerts"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatalf("alerts: %v: %s", err, b)
		}
		out := map[string]int{}
		for _, a := range page.Alerts {
			out[a.ID] = a.Count
		}
		return out
	}

	ctx, cancel := context.WithCancel(context.Background())
	base, token, done := startNode(t, ctx, cfg, ServeOptions{})
	var first map[string]int
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if first = alerts(base, token); len(first) >= 1 {
			time.Sleep(2 * time.Second) // the rest of the file
			first = alerts(base, token)
			break
		}
	}
	if len(first) == 0 {
		t.Fatal("no ssh-brute-force alert on PostgreSQL")
	}
	resp, body := call(base, "POST", "/api/v1/session", "", nil, `{"token":"`+token+`"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("console login: %d %s", resp.StatusCode, body)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == api.SessionCookie {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "state", "CURRENT")); err != nil {
		t.Errorf("no checkpoint at shutdown: %v", err)
	}

	// The restart: the admin token is not shown again (it exists), so the
	// session opened before it is what authenticates now.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	base2, result := runNode(t, ctx2, cfg, ServeOptions{})
	if resp, b := call(base2, "GET", "/api/v1/session", "", cookie, ""); resp.StatusCode != 200 {
		t.Errorf("session after a restart on PostgreSQL: %d %s", resp.StatusCode, b)
	}
	time.Sleep(2 * time.Second) // give a wrong re-read time to show
	second := alerts(base2, token)
	if len(second) != len(first) {
		t.Errorf("%d brute-force alerts after the restart, %d before", len(second), len(first))
	}
	for id, n := range first {
		if second[id] != n {
			t.Errorf("alert %s: count %d after the restart, %d before", id, second[id], n)
		}
	}
	cancel2()
	if err := <-result; err != nil {
		t.Fatalf("serve returned %v", err)
	}
}
