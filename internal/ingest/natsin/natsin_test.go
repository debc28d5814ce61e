package natsin

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-ids/rampart/internal/ingest"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// testServer connects to the NATS JetStream server the tests use
// (RAMPART_TEST_NATS_URL, default nats://127.0.0.1:4222; .ci/run starts
// one) and creates a stream of its own, removed at the end.
func testServer(t *testing.T) (url, stream, subject string, js jetstream.JetStream) {
	t.Helper()
	url = os.Getenv("RAMPART_TEST_NATS_URL")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	nc, err := nats.Connect(url, nats.Timeout(3*time.Second))
	if err != nil {
		t.Skipf("nats not reachable (set RAMPART_TEST_NATS_URL; default nats://127.0.0.1:4222): %v", err)
	}
	t.Cleanup(nc.Close)
	if js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	id := hex.EncodeToString(b[:])
	stream, subject = "RAMPART_TEST_"+id, "rampart.test."+id+".auth"
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{"rampart.test." + id + ".>"}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Skipf("nats at %s has no JetStream: %v", url, err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), stream) })
	return url, stream, subject, js
}

// sink collects records and commits those commit says to.
type sink struct {
	mu     sync.Mutex
	recs   []ingest.Record
	commit func(ingest.Record) bool
	want   int
	full   chan struct{}
}

func (s *sink) Submit(_ context.Context, recs []ingest.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.recs = append(s.recs, r)
		if s.commit(r) {
			r.Commit()
		}
	}
	if len(s.recs) >= s.want && s.full != nil {
		close(s.full)
		s.full = nil
	}
	return nil
}

func consume(t *testing.T, in *Input, want int, commit func(ingest.Record) bool) []ingest.Record {
	t.Helper()
	s := &sink{commit: commit, want: want, full: make(chan struct{})}
	full := s.full
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, s) }()
	select {
	case <-full:
	case <-time.After(30 * time.Second):
		t.Errorf("got %d records of %d in 30s", len(s.recs), want)
	}
	time.Sleep(300 * time.Millisecond) // anything beyond want would arrive now
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recs
}

// TestAtLeastOnce: real sshd lines published to a stream are read in order
// with their stream sequence as position; the ones the pipeline committed
// are acknowledged and never come back, the others are delivered again to
// the next run of the same durable consumer, with the same position (so the
// same event id), and an oversize message is passed truncated and marked.
func TestAtLeastOnce(t *testing.T) {
	url, stream, subject, js := testServer(t)
	f, err := os.Open(filepath.Join(testutil.SharedData(t, "loghub-2k"), "OpenSSH", "OpenSSH_2k.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	lines = append(lines, string(make([]byte, 3000))) // oversize under MaxRecordBytes 1024
	ctx := context.Background()
	for _, l := range lines {
		if _, err := js.Publish(ctx, subject, []byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{URL: url, Stream: stream, Durable: "rt", Format: "auth", MaxRecordBytes: 1024, AckWait: time.Second, Batch: 100}
	in, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	odd := func(r ingest.Record) bool { n, _ := strconv.Atoi(r.Position); return n%2 == 1 }
	first := consume(t, in, len(lines), odd)
	if len(first) < len(lines) {
		t.Fatalf("first run: %d records, want %d", len(first), len(lines))
	}
	// Past AckWait the server delivers uncommitted records again, even to
	// this run: those must be the uncommitted ones.
	for _, r := range first[len(lines):] {
		if odd(r) {
			t.Fatalf("first run: committed record %s delivered again", r.Position)
		}
	}
	first = first[:len(lines)]
	for i, r := range first {
		if r.Position != strconv.Itoa(i+1) || r.Source != "nats:"+stream {
			t.Fatalf("record %d: source %q position %q, want nats:%s and %d", i, r.Source, r.Position, stream, i+1)
		}
		if i < len(lines)-1 && (string(r.Data) != lines[i] || r.Format != "auth") {
			t.Fatalf("record %d: %q (format %q), want %q", i, r.Data, r.Format, lines[i])
		}
	}
	if last := first[len(first)-1]; last.Format != ingest.FormatOversize || len(last.Data) != 1024 {
		t.Errorf("oversize message: format %q, %d bytes; want %q and 1024", last.Format, len(last.Data), ingest.FormatOversize)
	}
	if in.Stats().Truncated != 1 {
		t.Errorf("truncated = %d, want 1", in.Stats().Truncated)
	}
	time.Sleep(1500 * time.Millisecond) // AckWait passes for the unacknowledged half
	in2, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	second := consume(t, in2, len(lines)/2, func(ingest.Record) bool { return true })
	seen := map[string]bool{}
	for _, r := range second {
		seen[r.Position] = true
	}
	if len(seen) != len(lines)/2 {
		t.Fatalf("second run: %d distinct records delivered again, want the %d never committed", len(seen), len(lines)/2)
	}
	for _, r := range second {
		if odd(r) {
			t.Fatalf("committed record %s delivered again", r.Position)
		}
		n, _ := strconv.Atoi(r.Position)
		if string(r.Data) != string(first[n-1].Data) {
			t.Fatalf("record %s redelivered with other bytes", r.Position)
		}
	}
	in3, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{commit: func(ingest.Record) bool { return true }, want: 1 << 30}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := in3.Run(rctx, s); err != nil {
		t.Fatal(err)
	}
	if len(s.recs) != 0 {
		t.Errorf("third run: %d records, want none (all acknowledged)", len(s.recs))
	}
}

// TestConfigRefused: configs that cannot work are refused before connecting.
func TestConfigRefused(t *testing.T) {
	for _, c := range []Config{
		{Stream: "S"},
		{URL: "nats://x"},
		{URL: "nats://x", Stream: "S", Token: "t", CredsFile: "f"},
		{URL: "nats://x", Stream: "S", Batch: 10, MaxAckPending: 5},
	} {
		if _, err := New(c, nil); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// TestDefaultDurable: inputs on one stream get consumers of their own by
// default, named from the input (the same on every node).
func TestDefaultDurable(t *testing.T) {
	a, err := New(Config{Name: "nats:edge.auth", URL: "nats://x", Stream: "S"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Name: "nats:edge web", URL: "nats://x", Stream: "S"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.cfg.Durable != "rampart-edge_auth" || b.cfg.Durable != "rampart-edge_web" {
		t.Errorf("durables %q and %q, want rampart-edge_auth and rampart-edge_web", a.cfg.Durable, b.cfg.Durable)
	}
	if c, _ := New(Config{URL: "nats://x", Stream: "S", Durable: "mine"}, nil); c.cfg.Durable != "mine" {
		t.Errorf("an explicit durable was replaced: %q", c.cfg.Durable)
	}
}
