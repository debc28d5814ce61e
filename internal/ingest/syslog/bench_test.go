package syslog

import (
	"context"
	"net"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/rampart-ids/rampart/internal/ingest"
)

type countSink struct{ n atomic.Int64 }

func (s *countSink) Submit(_ context.Context, recs []ingest.Record) error {
	s.n.Add(int64(len(recs)))
	return nil
}

// BenchmarkTCPOctet sends octet-counted RFC 5424 messages over one loopback
// TCP connection; ns/op is per message, end to end into the sink.
func BenchmarkTCPOctet(b *testing.B) {
	srv, err := New(Config{TCP: "127.0.0.1:0"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	s := &countSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, s) }()
	c, err := net.Dial("tcp", srv.TCPAddr().String())
	if err != nil {
		b.Fatal(err)
	}
	msg := "<85>1 2026-11-27T10:10:52.519128+00:00 vm sshd 4242 - - Failed password for invalid user admin from 203.0.113.7 port 51234 ssh2"
	frame := []byte(strconv.Itoa(len(msg)) + " " + msg)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := c.Write(frame); err != nil {
			b.Fatal(err)
		}
		n++
	}
	for s.n.Load() < int64(n) {
		// wait for the tail of the stream to reach the sink
		runtimeGosched()
	}
	b.StopTimer()
	c.Close()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

func runtimeGosched() { runtime.Gosched() }
