// Package natsin is a NATS JetStream input: it reads records from a stream
// through a durable pull consumer and acknowledges each one only when the
// pipeline commits it (stored or quarantined), so ingest is at-least-once
// across restarts and nodes: a record read but not stored is delivered
// again after AckWait, and its event id (from the stream name and sequence)
// is the same, so it is stored once.
//
// Records carry Format from the config ("" auto-detects). A message longer
// than MaxRecordBytes is passed truncated with Format ingest.FormatOversize
// (the pipeline quarantines it as too_large). MaxAckPending bounds the
// records in flight, so a slow pipeline slows the consumer, not memory.
//
// Several nodes may share one durable consumer (the stream's messages are
// then split between them); stateful detectors see only their node's
// share, so give each node its own durable and filter subject when they
// must see whole entities (partition subjects by entity at the publisher).
package natsin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-ids/rampart/internal/ingest"
)

// Config configures a JetStream input. Zero values get the defaults noted.
type Config struct {
	// Name is the input's name (default "nats:<stream>").
	Name string
	// URL is the server URL, or several separated by commas (a cluster).
	URL string
	// Token authenticates with a token; CredsFile with a .creds file (NATS
	// JWT and nkey). At most one.
	Token     string
	CredsFile string
	// Stream is the JetStream stream to read (it must exist).
	Stream string
	// Subject filters the stream's subjects ("" reads them all).
	Subject string
	// Durable is the consumer name (default "rampart-" and the input's name
	// without "nats:", so two inputs on one stream never share a consumer
	// while every node's same input does); the server keeps its position,
	// so a restart resumes after the last acknowledged record.
	Durable string
	// Format is the records' format ("" auto-detects).
	Format string
	// MaxRecordBytes bounds one record (default 1 MiB).
	MaxRecordBytes int
	// Batch is the most records fetched at once (default 256).
	Batch int
	// AckWait is how long a record may take from delivery to being stored
	// before the server delivers it again (default 5m).
	AckWait time.Duration
	// MaxAckPending bounds records delivered and not yet acknowledged
	// (default 16384).
	MaxAckPending int
	// Now is the wall clock for Record.Received (default time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Name == "" {
		c.Name = "nats:" + c.Stream
	}
	if c.Durable == "" {
		c.Durable = durableName(c.Name)
	}
	if c.MaxRecordBytes <= 0 {
		c.MaxRecordBytes = 1 << 20
	}
	if c.Batch <= 0 {
		c.Batch = 256
	}
	if c.AckWait <= 0 {
		c.AckWait = 5 * time.Minute
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = 16384
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// durableName is the default consumer name of input name: letters,
// digits, '-' and '_' only (NATS refuses '.', '*', '>', spaces and path
// separators in consumer names).
func durableName(name string) string {
	b := []byte("rampart-" + strings.TrimPrefix(name, "nats:"))
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// Validate reports a config that cannot work.
func (c Config) Validate() error {
	switch {
	case c.URL == "":
		return errors.New("url is required")
	case c.Stream == "":
		return errors.New("stream is required")
	case c.Token != "" && c.CredsFile != "":
		return errors.New("token and creds_file are exclusive")
	case c.Batch > c.MaxAckPending:
		return fmt.Errorf("batch %d exceeds max_ack_pending %d", c.Batch, c.MaxAckPending)
	}
	return nil
}

// Input reads one stream.
type Input struct {
	cfg Config
	log *slog.Logger

	counts ingest.Counters
}

var (
	_ ingest.Input         = (*Input)(nil)
	_ ingest.StatsProvider = (*Input)(nil)
)

// New returns a JetStream input; it connects when Run starts.
func New(cfg Config, log *slog.Logger) (*Input, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuring nats input %s: %w", cfg.Name, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Input{cfg: cfg, log: log.With("component", "ingest/nats", "input", cfg.Name)}, nil
}

// Name returns the input's name.
func (in *Input) Name() string { return in.cfg.Name }

// Stats returns the input's counters.
func (in *Input) Stats() ingest.Stats { return in.counts.Stats() }

// Source is the Record.Source of a stream's records.
func Source(stream string) string { return "nats:" + stream }

// Run consumes until ctx is done. Connection losses are retried by the
// client (reconnects without limit); an error means the consumer could not
// be set up or fetching failed for good.
func (in *Input) Run(ctx context.Context, sink ingest.Sink) error {
	opts := []nats.Option{nats.Name("rampart " + in.cfg.Name), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true)}
	switch {
	case in.cfg.Token != "":
		opts = append(opts, nats.Token(in.cfg.Token))
	case in.cfg.CredsFile != "":
		opts = append(opts, nats.UserCredentials(in.cfg.CredsFile))
	}
	nc, err := nats.Connect(in.cfg.URL, opts...)
	if err != nil {
		return fmt.Errorf("connecting to nats: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("nats jetstream: %w", err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, in.cfg.Stream, jetstream.ConsumerConfig{
		Durable: in.cfg.Durable, AckPolicy: jetstream.AckExplicitPolicy, AckWait: in.cfg.AckWait,
		MaxAckPending: in.cfg.MaxAckPending, FilterSubject: in.cfg.Subject, DeliverPolicy: jetstream.DeliverAllPolicy,
		Description: "rampart input " + in.cfg.Name,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("nats consumer %s on stream %s: %w", in.cfg.Durable, in.cfg.Stream, err)
	}
	in.log.Info("consuming", "stream", in.cfg.Stream, "durable", in.cfg.Durable, "subject", in.cfg.Subject)
	source := Source(in.cfg.Stream)
	for ctx.Err() == nil {
		batch, err := cons.Fetch(in.cfg.Batch, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			in.log.Warn("fetch failed; retrying", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		recs := make([]ingest.Record, 0, in.cfg.Batch)
		for msg := range batch.Messages() {
			md, err := msg.Metadata()
			if err != nil {
				in.log.Warn("message without metadata; left for redelivery", "err", err)
				continue
			}
			recs = append(recs, in.record(source, md.Sequence.Stream, msg))
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			in.log.Debug("fetch ended early", "err", err)
		}
		if len(recs) == 0 {
			continue
		}
		if err := sink.Submit(ctx, recs); err != nil {
			if ctx.Err() != nil {
				return nil // unacknowledged: delivered again
			}
			return fmt.Errorf("submitting records from %s: %w", in.cfg.Name, err)
		}
	}
	return nil
}

func (in *Input) record(source string, seq uint64, msg jetstream.Msg) ingest.Record {
	data := msg.Data()
	now := in.cfg.Now()
	rec := ingest.Record{
		Source:   source,
		Position: strconv.FormatUint(seq, 10),
		Received: now,
		Format:   in.cfg.Format,
		// Acknowledged once stored: the pipeline commits in order, after
		// the batch holding the record is written. A lost ack means one
		// more delivery, stored once (same event id).
		Commit: func() { _ = msg.Ack() },
	}
	over := len(data) > in.cfg.MaxRecordBytes
	if over {
		data = data[:in.cfg.MaxRecordBytes]
		rec.Format = ingest.FormatOversize
	}
	rec.Data = append([]byte(nil), data...)
	in.counts.Read(len(msg.Data()), over, now)
	return rec
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
