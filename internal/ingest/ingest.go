// Package ingest defines inputs: things that read raw records from outside
// (files, stdin, syslog, HTTP) and hand them to the pipeline.
package ingest

import (
	"context"
	"time"
)

// Record is one raw record read by an input.
type Record struct {
	// Source names the input and stream, stable across restarts
	// (e.g. "file:/var/log/auth.log", "syslog:udp", "http").
	Source string
	// Position locates the record within Source (byte offset, sequence), used
	// to derive a deterministic event id; may be empty.
	Position string
	// Data is the record without framing (no trailing newline). The sink owns it.
	Data []byte
	// Received is the wall-clock time the record was read.
	Received time.Time
	// Format is a format name hint ("" means auto-detect).
	Format string
	// Host is the sending host for network inputs (syslog peer address), else "".
	Host string
	// Purposes are the record's purpose tags (the rampart.purpose field of
	// its event), set by the serve process from the config's purpose rules;
	// nil when none apply. Shared by the records of one source: never modify.
	Purposes []string
	// Commit, if set, is called once the record has been durably processed
	// (stored or quarantined); file inputs advance their saved offset there.
	Commit func()
}

// Sink accepts records. Submit blocks while the pipeline is full
// (backpressure) and returns ctx.Err() when ctx is done.
type Sink interface {
	Submit(ctx context.Context, recs []Record) error
}

// An Input reads records until ctx is done or its source ends.
//
// Run blocks. It returns nil when a finite source is exhausted or ctx is
// cancelled, and an error when the input cannot continue. Inputs keep their
// own Prometheus-free counters; the pipeline counts what it receives.
type Input interface {
	Name() string
	Run(ctx context.Context, sink Sink) error
}

// Stats is what an input reports about itself (exposed in /metrics).
type Stats struct {
	Records   uint64
	Bytes     uint64
	Dropped   uint64 // records lost outside Rampart (e.g. UDP datagrams the kernel dropped)
	Truncated uint64 // records over the size limit (quarantined, not lost)
	LastRead  time.Time
}

// StatsProvider is an optional capability of inputs.
type StatsProvider interface {
	Stats() Stats
}
