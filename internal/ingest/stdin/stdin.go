// Package stdin is the standard-input input: it reads newline-delimited
// records from os.Stdin (or any io.Reader) until the stream ends.
//
// Record.Position is the byte offset of the line, so replaying the same
// stream yields the same event ids. Lines longer than MaxRecordBytes are
// passed truncated with Format ingest.FormatOversize (quarantined as
// "too_large"); a last line without newline is passed too.
package stdin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/rampart-ids/rampart/internal/ingest"
)

// Config configures a stdin input. Zero values get the defaults noted.
type Config struct {
	// Name is the input's name (default "stdin").
	Name string
	// Source is Record.Source (default "stdin").
	Source string
	// Format is the format hint ("" = auto-detect).
	Format string
	// MaxRecordBytes bounds one line (default 1 MiB).
	MaxRecordBytes int
	// BatchSize is the most records handed to the sink at once (default 256).
	BatchSize int
	// Now is the wall clock for Record.Received (default time.Now).
	Now func() time.Time
}

// Input reads records from a reader. It implements ingest.Input and ingest.StatsProvider.
type Input struct {
	cfg Config
	r   io.Reader

	counts ingest.Counters
}

var (
	_ ingest.Input         = (*Input)(nil)
	_ ingest.StatsProvider = (*Input)(nil)
)

// New returns an input reading os.Stdin.
func New(cfg Config) *Input { return NewReader(cfg, os.Stdin) }

// NewReader returns an input reading r.
func NewReader(cfg Config, r io.Reader) *Input {
	if cfg.Name == "" {
		cfg.Name = "stdin"
	}
	if cfg.Source == "" {
		cfg.Source = "stdin"
	}
	if cfg.MaxRecordBytes <= 0 {
		cfg.MaxRecordBytes = 1 << 20
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Input{cfg: cfg, r: r}
}

// Name returns the input's name.
func (in *Input) Name() string { return in.cfg.Name }

// Stats returns the input's counters.
func (in *Input) Stats() ingest.Stats { return in.counts.Stats() }

// Run reads until the stream ends (returns nil), ctx is done (nil) or a
// read fails (error). A blocked read of a terminal or pipe is not
// interrupted by ctx; Run returns once the read does.
func (in *Input) Run(ctx context.Context, sink ingest.Sink) error {
	lr := ingest.NewLineReader(in.r, 0, in.cfg.MaxRecordBytes)
	batch := make([]ingest.Record, 0, in.cfg.BatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := sink.Submit(ctx, batch)
		batch = make([]ingest.Record, 0, in.cfg.BatchSize)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("submitting stdin records: %w", err)
		}
		return nil
	}
	for ctx.Err() == nil {
		ln, err := lr.Next()
		if errors.Is(err, io.EOF) {
			if last, ok := lr.Flush(); ok {
				batch = append(batch, in.record(last))
			}
			return flush()
		}
		if err != nil {
			if ferr := flush(); ferr != nil {
				return ferr
			}
			return fmt.Errorf("reading %s: %w", in.cfg.Source, err)
		}
		batch = append(batch, in.record(ln))
		// Flush full batches, and whenever nothing more is buffered so an
		// interactive or slow pipe is not held back waiting for a batch.
		if len(batch) >= in.cfg.BatchSize || !lr.Buffered() {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (in *Input) record(ln ingest.Line) ingest.Record {
	now := in.cfg.Now()
	rec := ingest.Record{
		Source:   in.cfg.Source,
		Position: strconv.FormatInt(ln.Offset, 10),
		Data:     append([]byte(nil), ln.Data...),
		Received: now,
		Format:   in.cfg.Format,
	}
	if ln.Oversize {
		rec.Format = ingest.FormatOversize
	}
	in.counts.Read(int(ln.End-ln.Offset), ln.Oversize, now)
	return rec
}
