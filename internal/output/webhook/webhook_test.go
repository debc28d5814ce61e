package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rampart-ids/rampart/internal/output"
	"github.com/rampart-ids/rampart/internal/output/outputtest"
)

const secret = "s3cr3t-do-not-log"

type request struct {
	header http.Header
	body   []byte
}

// receiver is a real HTTP server that answers with the scripted statuses
// (then 200) and records every request.
type receiver struct {
	mu       sync.Mutex
	reqs     []request
	statuses []int
	delay    time.Duration
	srv      *httptest.Server
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, request{header: req.Header.Clone(), body: body})
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		delay := r.delay
		r.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-req.Context().Done():
			}
		}
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, "status %d", status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) set(delay time.Duration, statuses []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delay, r.statuses = delay, statuses
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

var fixedNow = func() time.Time { return time.Unix(1_800_000_000, 0) }

func TestSendSignedArray(t *testing.T) {
	rcv := newReceiver(t)
	var logs bytes.Buffer
	o, err := New(Config{URL: rcv.srv.URL + "/hook", Secret: secret, Headers: map[string]string{"Authorization": "Bearer x"}},
		output.Deps{Now: fixedNow, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	as := outputtest.Alerts()
	if err := o.Send(context.Background(), as); err != nil {
		t.Fatal(err)
	}
	reqs := rcv.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content-type %q", ct)
	}
	if r.header.Get("Authorization") != "Bearer x" {
		t.Errorf("extra header missing")
	}
	ts := r.header.Get(HeaderTimestamp)
	if ts != "1800000000" {
		t.Errorf("timestamp %q", ts)
	}
	if !Verify([]byte(secret), ts, r.body, r.header.Get(HeaderSignature)) {
		t.Errorf("signature %q does not verify", r.header.Get(HeaderSignature))
	}
	if Verify([]byte("wrong"), ts, r.body, r.header.Get(HeaderSignature)) || Verify([]byte(secret), ts, append(r.body, ' '), r.header.Get(HeaderSignature)) {
		t.Error("signature verifies with the wrong secret or body")
	}
	var recs []output.Record
	if err := json.Unmarshal(r.body, &recs); err != nil {
		t.Fatalf("body is not a JSON array of records: %v", err)
	}
	if len(recs) != 2 || recs[0].ID != "a1b2c3" || recs[1].Title != as[1].Title || recs[1].Entities[0].Value != `DOM\adm=in` {
		t.Errorf("records %+v", recs)
	}
	if strings.Contains(logs.String(), secret) {
		t.Error("secret appears in logs")
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		attempts int
		wantReqs int
		wantErr  string
	}{
		{name: "5xx then ok", statuses: []int{503, 500}, attempts: 4, wantReqs: 3},
		{name: "429 honours retry-after", statuses: []int{429}, attempts: 2, wantReqs: 2},
		{name: "gives up after max attempts", statuses: []int{502, 502, 502, 502}, attempts: 3, wantReqs: 3, wantErr: "status 502"},
		{name: "4xx is permanent", statuses: []int{400}, attempts: 4, wantReqs: 1, wantErr: "status 400"},
		{name: "redirect is not followed", statuses: []int{302}, attempts: 4, wantReqs: 1, wantErr: "status 302"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rcv := newReceiver(t, tc.statuses...)
			var logs bytes.Buffer
			o, err := New(Config{URL: rcv.srv.URL + "?token=abc", Secret: secret, MaxAttempts: tc.attempts, Backoff: time.Millisecond},
				output.Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			err = o.Send(context.Background(), outputtest.Alerts())
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("got err %v, want %q", err, tc.wantErr)
			}
			if n := len(rcv.requests()); n != tc.wantReqs {
				t.Errorf("got %d requests, want %d", n, tc.wantReqs)
			}
			for _, s := range []string{secret, "token=abc"} {
				if strings.Contains(logs.String(), s) || err != nil && strings.Contains(err.Error(), s) {
					t.Errorf("%q leaked: logs %q err %v", s, logs.String(), err)
				}
			}
		})
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	rcv := newReceiver(t)
	rcv.set(2*time.Second, nil)
	o, err := New(Config{URL: rcv.srv.URL, Timeout: 50 * time.Millisecond, MaxAttempts: 2, Backoff: time.Millisecond}, output.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = o.Send(context.Background(), outputtest.Alerts())
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("got %v, want a timeout", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("took %v, want about 2×50ms", el)
	}
	if n := len(rcv.requests()); n != 2 {
		t.Errorf("got %d attempts, want 2", n)
	}
	// A cancelled context stops the backoff wait.
	rcv.set(0, []int{503, 503, 503})
	o2, _ := New(Config{URL: rcv.srv.URL, MaxAttempts: 5, Backoff: time.Hour}, output.Deps{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := o2.Send(ctx, outputtest.Alerts()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context deadline", err)
	}
}

func TestBatchingAndClose(t *testing.T) {
	rcv := newReceiver(t)
	o, err := New(Config{URL: rcv.srv.URL, MaxBatch: 1}, output.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Send(context.Background(), outputtest.Alerts()); err != nil {
		t.Fatal(err)
	}
	reqs := rcv.requests()
	if len(reqs) != 2 || reqs[0].header.Get(HeaderSignature) != "" {
		t.Fatalf("got %d requests (signature %q), want 2 unsigned", len(reqs), reqs[0].header.Get(HeaderSignature))
	}
	o.Close()
	if err := o.Send(context.Background(), outputtest.Alerts()); !errors.Is(err, output.ErrClosed) {
		t.Errorf("send after close: %v", err)
	}
}

func TestConfig(t *testing.T) {
	t.Setenv("RAMPART_TEST_HOOK_SECRET", "from-env")
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{name: "ok", yaml: "kind: webhook\nurl: https://hooks.example/x\nsecret: abc\ntimeout: 5s\n"},
		{name: "env secret", yaml: "kind: webhook\nurl: https://hooks.example/x\nsecret_env: RAMPART_TEST_HOOK_SECRET\n"},
		{name: "env secret unset", yaml: "kind: webhook\nurl: https://hooks.example/x\nsecret_env: RAMPART_TEST_NOPE\n", wantErr: "empty or unset"},
		{name: "no url", yaml: "kind: webhook\n", wantErr: "url: required"},
		{name: "bad scheme", yaml: "kind: webhook\nurl: ftp://x\n", wantErr: "want http(s)"},
		{name: "both secrets", yaml: "kind: webhook\nurl: http://x\nsecret: a\nsecret_env: B\n", wantErr: "set only one"},
		{name: "reserved header", yaml: "kind: webhook\nurl: http://x\nheaders: {X-Rampart-Signature: a}\n", wantErr: "set by the output"},
		{name: "unknown key", yaml: "kind: webhook\nurl: http://x\nretries: 3\n", wantErr: "line 3: retries: unknown key"},
		{name: "bad attempts", yaml: "kind: webhook\nurl: http://x\nmax_attempts: 99\n", wantErr: "max_attempts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tc.yaml), &n); err != nil {
				t.Fatal(err)
			}
			o, err := output.New(Kind, &n, output.Deps{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got err %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			o.Close()
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	c := Config{URL: "http://x", Secret: secret}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "secret", c.Secret, "cfg", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%s %q %x", c.Secret, c.Secret, c.Secret), logs.String()} {
		if strings.Contains(s, secret) || strings.Contains(s, fmt.Sprintf("%x", secret)) {
			t.Errorf("secret printed: %s", s)
		}
	}
	b, _ := json.Marshal(c)
	y, _ := yaml.Marshal(c)
	if strings.Contains(string(b), secret) || strings.Contains(string(y), secret) {
		t.Errorf("secret marshalled: %s %s", b, y)
	}
}
