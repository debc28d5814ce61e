package syslog

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/rampart-ids/rampart/internal/ingest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type sink struct {
	mu   sync.Mutex
	recs []ingest.Record
}

func (s *sink) Submit(_ context.Context, recs []ingest.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, recs...)
	return nil
}

func (s *sink) snapshot() []ingest.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ingest.Record(nil), s.recs...)
}

func (s *sink) data() []string {
	var out []string
	for _, r := range s.snapshot() {
		out = append(out, string(r.Data))
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// start runs a server on loopback ports; the returned stop cancels Run and
// returns its error.
func start(t *testing.T, cfg Config) (*Server, *sink, func() error) {
	t.Helper()
	if cfg.UDP == "" && cfg.TCP == "" {
		cfg.UDP, cfg.TCP = "127.0.0.1:0", "127.0.0.1:0"
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = 5 * time.Millisecond
	}
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, s) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return srv, s, stop
}

func TestUDP(t *testing.T) {
	srv, s, stop := start(t, Config{MaxMessage: 16})
	c, err := net.Dial("udp", srv.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Every datagram is a record, the empty and all-NUL ones too (marked
	// for quarantine, not dropped).
	for _, m := range []string{"<13>hello\n", "<13>0123456789abcdefXYZ", "", "\x00\x00\x00", "<13>last"} {
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "5 datagrams", func() bool { return len(s.snapshot()) == 5 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	recs := s.snapshot()
	if diff := cmp.Diff([]string{"<13>hello", "<13>0123456789ab", "", "\x00\x00\x00", "<13>last"}, s.data()); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
	var formats []string
	for _, r := range recs {
		formats = append(formats, r.Format)
	}
	if diff := cmp.Diff([]string{"", ingest.FormatOversize, ingest.FormatEmpty, ingest.FormatEmpty, ""}, formats); diff != "" {
		t.Errorf("formats (-want +got):\n%s", diff)
	}
	for _, r := range recs {
		if r.Source != SourceUDP || r.Host != "127.0.0.1" || r.Position == "" {
			t.Errorf("record %+v: want source %s host 127.0.0.1 and a position", r, SourceUDP)
		}
	}
	if recs[0].Position == recs[4].Position {
		t.Error("positions not unique")
	}
	if st := srv.Stats(); st.Records != 5 || st.Truncated != 1 {
		t.Errorf("stats %+v, want 5 records, 1 truncated", st)
	}
}

func TestTCPFraming(t *testing.T) {
	srv, s, stop := start(t, Config{MaxMessage: 32})
	send := func(payload string) {
		c, err := net.Dial("tcp", srv.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, payload); err != nil {
			t.Fatal(err)
		}
	}
	send("11 <13>a\nmulti3 <1>")
	waitFor(t, "octet frames", func() bool { return len(s.snapshot()) == 2 })
	send("<13>line one\n<13>line two\r\n")
	waitFor(t, "newline frames", func() bool { return len(s.snapshot()) == 4 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	want := []string{"<13>a\nmulti", "<1>", "<13>line one", "<13>line two"}
	if diff := cmp.Diff(want, s.data()); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
	for _, r := range s.snapshot() {
		if r.Source != SourceTCP || r.Host != "127.0.0.1" {
			t.Errorf("record source %q host %q", r.Source, r.Host)
		}
	}
}

func TestTCPLimits(t *testing.T) {
	srv, s, stop := start(t, Config{TCP: "127.0.0.1:0", MaxConnections: 1, IdleTimeout: 100 * time.Millisecond})
	first, err := net.Dial("tcp", srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := io.WriteString(first, "<13>held\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first connection's message", func() bool { return len(s.snapshot()) == 1 })

	second, err := net.Dial("tcp", srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	_ = second.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := second.Read(make([]byte, 1)); err != io.EOF && !isReset(err) {
		t.Errorf("second connection read: %v, want EOF (refused)", err)
	}
	if got := srv.Rejected(); got != 1 {
		t.Errorf("rejected %d, want 1", got)
	}

	// The first connection is closed after the idle timeout.
	_ = first.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := first.Read(make([]byte, 1)); err != io.EOF && !isReset(err) {
		t.Errorf("idle connection read: %v, want EOF", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func TestConfigErrors(t *testing.T) {
	if _, err := New(Config{}, nil); err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("empty config: got %v, want an address error", err)
	}
	if _, err := New(Config{UDP: "127.0.0.1:notaport"}, nil); err == nil {
		t.Error("bad udp address accepted")
	}
}

// TestUDPDrops floods a socket with a tiny receive buffer that nobody reads
// and checks the kernel's drops show up in Stats().Dropped.
func TestUDPDrops(t *testing.T) {
	srv, err := New(Config{UDP: "127.0.0.1:0", ReadBufferBytes: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, ok := udpDrops(srv.udpInode); !ok {
		t.Skip("/proc/net/udp not readable here")
	}
	c, err := net.Dial("udp", srv.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := []byte(strings.Repeat("x", 1000))
	for range 500 {
		_, _ = c.Write(msg)
	}
	waitFor(t, "kernel drops", func() bool { return srv.Stats().Dropped > 0 })
	t.Logf("dropped %d of 500 datagrams", srv.Stats().Dropped)
}

func TestRunStopsWhenSinkFails(t *testing.T) {
	srv, err := New(Config{UDP: "127.0.0.1:0", FlushInterval: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(context.Background(), failSink{}) }()
	c, err := net.Dial("udp", srv.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte("<13>x"))
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "pipeline closed") {
			t.Errorf("got %v, want the sink's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the sink failed")
	}
}

type failSink struct{}

func (failSink) Submit(context.Context, []ingest.Record) error { return fmt.Errorf("pipeline closed") }
