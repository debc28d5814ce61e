// Package ingest defines inputs: things that read raw records from outside
// (files, stdin, syslog, HTTP) and hand them to the pipeline.
package ingest

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
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
	// Tally, if set, is told what became of the record (HTTP ingest answers
	// its client with the counts). Shared by the records of one request.
	Tally *Tally
}

// A Tally counts what became of a group of records: the sink that decides
// each record (the pipeline) reports it once, as an event, a quarantine
// entry with its reason, or a record without an event; Done is closed when
// all of them are decided. Safe for concurrent use.
type Tally struct {
	mu                           sync.Mutex
	left                         int
	events, quarantined, noEvent int
	reasons                      map[string]int
	done                         chan struct{}
}

// NewTally returns a Tally waiting for n records.
func NewTally(n int) *Tally {
	t := &Tally{left: n, done: make(chan struct{})}
	if n <= 0 {
		close(t.done)
	}
	return t
}

// Event reports a record that became an event.
func (t *Tally) Event() { t.add(&t.events, "") }

// Quarantined reports a record quarantined with reason.
func (t *Tally) Quarantined(reason string) { t.add(&t.quarantined, reason) }

// NoEvent reports a record that carries no event (a header, a comment).
func (t *Tally) NoEvent() { t.add(&t.noEvent, "") }

func (t *Tally) add(n *int, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.left <= 0 {
		return // more reports than records: a sink bug, never a panic
	}
	*n++
	if reason != "" {
		if t.reasons == nil {
			t.reasons = map[string]int{}
		}
		t.reasons[reason]++
	}
	if t.left--; t.left == 0 {
		close(t.done)
	}
}

// Done is closed once every record is decided.
func (t *Tally) Done() <-chan struct{} { return t.done }

// Counts returns the records decided so far: events, quarantined (and by
// reason; the map is a copy) and without an event.
func (t *Tally) Counts() (events, quarantined, noEvent int, reasons map[string]int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.reasons != nil {
		reasons = maps.Clone(t.reasons)
	}
	return t.events, t.quarantined, t.noEvent, reasons
}

// Sink accepts records. Submit blocks while the pipeline is full
// (backpressure) and returns ctx.Err() when ctx is done. A sink that
// decides records reports each one to its Record.Tally, if set; one that
// forwards them passes the field on.
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

// Counters keep an input's Stats: embed them and call Read per record.
// Safe for concurrent use.
type Counters struct {
	records, bytes, truncated atomic.Uint64
	lastRead                  atomic.Int64
}

// Read counts a record of n bytes as read at t; truncated records were cut
// at the input's size limit.
func (c *Counters) Read(n int, truncated bool, t time.Time) {
	c.records.Add(1)
	c.bytes.Add(uint64(n))
	if truncated {
		c.truncated.Add(1)
	}
	c.lastRead.Store(t.UnixNano())
}

// Stats returns the counts (Dropped is the input's own business).
func (c *Counters) Stats() Stats {
	s := Stats{Records: c.records.Load(), Bytes: c.bytes.Load(), Truncated: c.truncated.Load()}
	if ns := c.lastRead.Load(); ns != 0 {
		s.LastRead = time.Unix(0, ns)
	}
	return s
}

// StatsProvider is an optional capability of inputs.
type StatsProvider interface {
	Stats() Stats
}
