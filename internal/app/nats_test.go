package app

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-ids/rampart/internal/config"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// TestServeFromNATS: serve consumes real sshd lines from a JetStream stream
// (the NATS server the tests use; skipped without one), raises the bundled
// brute-force alerts on them, and acknowledges every record it stored, so
// the durable consumer has nothing pending.
func TestServeFromNATS(t *testing.T) {
	url := os.Getenv("RAMPART_TEST_NATS_URL")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	nc, err := nats.Connect(url, nats.Timeout(3*time.Second))
	if err != nil {
		t.Skipf("nats not reachable (set RAMPART_TEST_NATS_URL; default nats://127.0.0.1:4222): %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	stream := "RAMPART_SERVE_" + hex.EncodeToString(b[:])
	subject := "rampart.serve." + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subject}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Skipf("nats at %s has no JetStream: %v", url, err)
	}
	defer js.DeleteStream(context.Background(), stream)
	f, err := os.Open(filepath.Join(testutil.SharedData(t, "loghub-2k"), "OpenSSH", "OpenSSH_2k.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		if _, err := js.Publish(ctx, subject, append([]byte(nil), sc.Bytes()...)); err != nil {
			t.Fatal(err)
		}
		n++
	}

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Time.Year = 2017
	cfg.NATS = []config.NATSInput{{Name: "auth", URL: url, Stream: stream, Durable: "serve", Format: "auth"}}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	base, token, done := startNode(t, runCtx, cfg, ServeOptions{})
	// The input creates its durable consumer when it starts.
	var info *jetstream.ConsumerInfo
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		cons, err := js.Consumer(ctx, stream, "serve")
		if err != nil {
			continue
		}
		if info, err = cons.Info(ctx); err == nil && info.AckFloor.Stream == uint64(n) && info.NumAckPending == 0 {
			break
		}
	}
	if info == nil {
		t.Fatal("serve created no consumer on the stream")
	}
	if info.AckFloor.Stream != uint64(n) || info.NumAckPending != 0 {
		t.Fatalf("consumer acknowledged through %d of %d records, %d pending", info.AckFloor.Stream, n, info.NumAckPending)
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/alerts?rule_id=ssh-brute-force&limit=500", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Alerts []json.RawMessage `json:"alerts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != 200 {
		t.Fatalf("alerts: %d %v", resp.StatusCode, err)
	}
	if len(page.Alerts) == 0 {
		t.Error("no ssh-brute-force alert from the sshd lines read from NATS")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
}
