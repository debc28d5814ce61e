package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/config"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// TestServeEndToEnd runs a node on SQLite and drives it through the API:
// ingest → threshold alert → idempotent re-delivery → quarantine → verdict.
func TestServeEndToEnd(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.HTTP.IngestRate = 0
	cfg.Syslog.UDP = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, token, done := startNode(t, ctx, cfg, ServeOptions{})
	call := func(method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		return resp.StatusCode, m
	}
	var lines []string
	for i := 0; i < 8; i++ {
		lines = append(lines, fmt.Sprintf(`{"@timestamp":"2026-11-20T10:00:%02dZ","event":{"dataset":"system.auth","action":"ssh_login","outcome":"failure"},"source":{"ip":"10.1.2.3","port":%d},"user":{"name":"root"},"process":{"name":"sshd"},"message":"Failed password for root from 10.1.2.3"}`, i*3, 40000+i))
	}
	body := strings.Join(lines, "\n") + "\n"
	if code, m := call("POST", "/api/v1/events", body); code != 202 {
		t.Fatalf("ingest: %d %v", code, m)
	}
	alerts := func() []any {
		_, m := call("GET", "/api/v1/alerts?rule_id=ssh-brute-force", "")
		l, _ := m["alerts"].([]any)
		return l
	}
	waitFor(t, func() bool { return len(alerts()) == 1 })
	first := alerts()[0].(map[string]any)

	// Re-delivering the same request (a client retry) must not add an alert or count.
	if code, _ := call("POST", "/api/v1/events", body); code != 202 {
		t.Fatal("second ingest failed")
	}
	// A malformed record is quarantined with its reason, not dropped.
	if code, _ := call("POST", "/api/v1/events", "{\"broken\": \n"); code != 202 {
		t.Fatal("malformed ingest not accepted for quarantine")
	}
	waitFor(t, func() bool {
		_, m := call("GET", "/api/v1/quarantine", "")
		c, _ := m["counts"].(map[string]any)
		return len(c) > 0
	})
	again := alerts()
	if len(again) != 1 || again[0].(map[string]any)["count"] != first["count"] {
		t.Fatalf("re-delivery changed alerts: before %v, after %v", first["count"], again)
	}

	// Input counters, among them kernel-dropped UDP datagrams, are exposed.
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	mresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if !strings.Contains(string(metrics), "rampart_input_dropped_total{input=") {
		t.Fatalf("/metrics lacks the input drop counter")
	}

	id := first["id"].(string)
	if code, m := call("POST", "/api/v1/alerts/"+id+"/verdict", `{"verdict":"true_positive","reason":"known scanner"}`); code != 200 {
		t.Fatalf("verdict: %d %v", code, m)
	}
	_, a := call("GET", "/api/v1/alerts/"+id, "")
	if a["status"] != "closed" || a["verdict"].(map[string]any)["verdict"] != "true_positive" {
		t.Fatalf("verdict not recorded: %v", a)
	}
	if code, _ := call("POST", "/api/v1/alerts/"+id+"/verdict", `{"verdict":"maybe","reason":"x"}`); code != 400 {
		t.Fatalf("invalid verdict accepted: %d", code)
	}
	// A viewer sees pseudonyms for internal addresses; the admin sees them in clear.
	code, m := call("POST", "/api/v1/tokens", `{"name":"v","role":"viewer"}`)
	if code != 201 {
		t.Fatalf("token create: %d %v", code, m)
	}
	req, _ = http.NewRequest("GET", base+"/api/v1/alerts/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+m["token"].(string))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	viewerBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Contains(string(viewerBody), "10.1.2.3") {
		t.Fatalf("viewer sees the clear address: %d %s", resp.StatusCode, viewerBody)
	}
	if !strings.Contains(string(viewerBody), `"kind":"ip","value":"10.`) {
		t.Fatalf("viewer's pseudonym left the internal network: %s", viewerBody)
	}
	if _, a := call("GET", "/api/v1/alerts/"+id, ""); !strings.Contains(fmt.Sprint(a["entities"]), "10.1.2.3") {
		t.Fatalf("admin does not see the clear address: %v", a["entities"])
	}
	// The admin re-identifies the viewer's pseudonym (audited); the viewer may not.
	ps := regexp.MustCompile(`"kind":"ip","value":"(10\.[0-9.]+)"`).FindStringSubmatch(string(viewerBody))[1]
	reid := fmt.Sprintf(`{"pseudonym":%q,"reason":"case 12: confirm the scanner"}`, ps)
	if code, m := call("POST", "/api/v1/reidentify", reid); code != 200 || m["value"] != "10.1.2.3" {
		t.Fatalf("admin re-identification: %d %v", code, m)
	}
	req, _ = http.NewRequest("POST", base+"/api/v1/reidentify", strings.NewReader(reid))
	req.Header.Set("Authorization", "Bearer "+m["token"].(string))
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("viewer re-identification: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not shut down")
	}
	verifyAudit(t, cfg.DataDir, map[string]int{"alert_created": 1, "verdict_set": 1, "token_created": 2, "reidentified": 2, "retention_purged": 1})
	// Stateful detectors survive a restart: the pipeline's last checkpoint,
	// at shutdown, holds their snapshots with the file offsets.
	cur, err := os.ReadFile(filepath.Join(cfg.DataDir, "state", "CURRENT"))
	if err != nil {
		t.Fatalf("no current checkpoint after shutdown: %v", err)
	}
	for _, kind := range []string{"anomaly", "rarity", "threshold", "offsets"} {
		name := kind + ".snapshot"
		if kind == "offsets" {
			name = "offsets.json"
		}
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "state", strings.TrimSpace(string(cur)), name)); err != nil {
			t.Errorf("checkpoint %s holds no %s: %v", strings.TrimSpace(string(cur)), name, err)
		}
	}
}

// verifyAudit checks the node's audit chain (signatures, anchor) and that it
// recorded the given actions at least that many times.
func verifyAudit(t *testing.T, dir string, want map[string]int) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, err := audit.LoadPublicKeys(filepath.Join(dir, audit.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	anchor, err := audit.ReadAnchor(filepath.Join(dir, audit.AnchorFileName))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ctx, st.Audit(), keys, audit.VerifyOptions{Anchor: anchor})
	if err != nil || !rep.OK {
		t.Fatalf("audit chain does not verify: %+v %v", rep, err)
	}
	got := map[string]int{}
	var buf bytes.Buffer
	if _, err := audit.Export(ctx, st.Audit(), &buf, audit.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		var r struct {
			Action string `json:"action"`
		}
		if json.Unmarshal([]byte(line), &r) == nil && r.Action != "" {
			got[r.Action]++
		}
	}
	for a, n := range want {
		if got[a] < n {
			t.Errorf("audit log has %d %s records, want at least %d (all: %v)", got[a], a, n, got)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("condition not met within 30s")
}

// startNode runs Serve with cfg and opts until ctx ends and returns its
// API address, the admin token it showed, and where Serve's result arrives.
func startNode(t *testing.T, ctx context.Context, cfg config.Config, opts ServeOptions) (base, token string, done <-chan error) {
	t.Helper()
	var tokenOut testutil.SyncBuffer
	opts.TokenOut = &tokenOut
	base, done = runNode(t, ctx, cfg, opts)
	token = regexp.MustCompile(`rmp_[A-Za-z0-9_-]+`).FindString(tokenOut.String())
	if token == "" {
		t.Fatalf("no admin token shown: %q", tokenOut.String())
	}
	return base, token, done
}

// runNode starts a node and waits until it listens (a restarted node shows
// no admin token: startNode is for first starts).
func runNode(t *testing.T, ctx context.Context, cfg config.Config, opts ServeOptions) (base string, done <-chan error) {
	t.Helper()
	addrc, result := make(chan string, 1), make(chan error, 1)
	if opts.TokenOut == nil {
		opts.TokenOut = &testutil.SyncBuffer{}
	}
	opts.Ready = func(a string) { addrc <- a }
	go func() { result <- Serve(ctx, cfg, opts) }()
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-result:
		t.Fatalf("serve stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start")
	}
	return base, result
}
