// Package pipeline runs records from inputs through normalization and
// detection into the store and alert outputs.
//
// Stages: Submit (bounded queue: inputs block when it is full, so memory
// never grows without bound) → parse and detect (one goroutine, in order, so
// stateful detectors see events in order) → write (batched store writes:
// events, quarantine, signals folded into alerts) → outputs (new alerts, and
// updates throttled per alert). Record.Commit runs only after the batch
// holding the record is stored, so file offsets advance at-least-once.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/ingest"
	"github.com/rampart-ids/rampart/internal/retention/purpose"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store"
)

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("pipeline closed")

// Notifier receives alerts that were created or updated (throttled).
type Notifier func(ctx context.Context, alerts []alert.Alert)

// Options configure a Pipeline. Engine and Store are required.
type Options struct {
	Engine *detect.Engine
	Store  store.Store
	// Notify is called from the writer goroutine with alerts to send out; may be nil.
	Notify Notifier
	// Parse configures the record formats.
	Parse format.Options
	// QueueSize bounds queued records (default 8192).
	QueueSize int
	// BatchSize bounds one store write (default 2048: larger batches amortize
	// SQLite's per-commit page writes); FlushInterval bounds its delay (default 200ms).
	BatchSize     int
	FlushInterval time.Duration
	// ThrottleWindow groups signals of one rule and entity into one alert (default 10m).
	ThrottleWindow time.Duration
	// NotifyEvery bounds how often an updated alert is re-sent to outputs (default ThrottleWindow).
	NotifyEvery time.Duration
	// MaxRecordBytes bounds one record (default 1 MiB); longer ones are quarantined as too_large.
	MaxRecordBytes int
	// MaxStreams bounds per-source parser state (default 4096; least recently used evicted).
	MaxStreams int
	// StoreAllEvents stores every event; when false only evidence events
	// (those that raised a signal) are stored.
	StoreAllEvents bool
	Registerer     prometheus.Registerer
	Logger         *slog.Logger
	// Now is the wall clock (tests inject one).
	Now func() time.Time
	// Checkpoint, when set, aligns the stateful detectors' state with the
	// inputs' offsets (see Checkpointer); CheckpointEvery is how often
	// (default 1m), and the pipeline takes a last one when it closes.
	Checkpoint      Checkpointer
	CheckpointEvery time.Duration
}

// Pipeline is the running ingest → detect → store chain. It implements ingest.Sink.
type Pipeline struct {
	opts    Options
	log     *slog.Logger
	queue   chan ingest.Record
	raised  chan signal.Signal // signals from outside detection (input health)
	results chan *batch
	m       metrics

	closeOnce sync.Once
	closing   chan struct{}
	mu        sync.RWMutex // guards closed against Submit
	closed    bool
	done      chan struct{}

	// Accounting: every received record ends as an event, a quarantine
	// entry or a no-event record (headers), so received = events + quarantined + noEvent.
	nReceived, nEvents, nQuarantined, nNoEvent atomic.Uint64

	parsers *lru[format.Parser]
	sent    *lru[time.Time] // alert id → last notification (wall clock)
	// fieldsHint sizes the next event's field map (the last event's field
	// count), so parsers do not grow it step by step. Detect goroutine only.
	fieldsHint int
	idBuf      []byte // event id scratch (event.DeriveIDInto), detect goroutine only
}

type batch struct {
	records int // records read into this batch, whatever became of them
	events  []*event.Event
	sigs    []signal.Signal
	quar    []store.Quarantined
	commits []func()
	// barrier marks a checkpoint (no records): the writer completes ck
	// after the batches before it.
	barrier bool
	ck      Checkpoint
}

// New builds a pipeline and starts its goroutines; stop it with Close.
func New(opts Options) (*Pipeline, error) {
	if opts.Engine == nil || opts.Store == nil {
		return nil, errors.New("pipeline: engine and store are required")
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 8192
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 2048
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 200 * time.Millisecond
	}
	if opts.ThrottleWindow <= 0 {
		opts.ThrottleWindow = 10 * time.Minute
	}
	if opts.NotifyEvery <= 0 {
		opts.NotifyEvery = opts.ThrottleWindow
	}
	if opts.MaxRecordBytes <= 0 {
		opts.MaxRecordBytes = 1 << 20
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = 4096
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &Pipeline{
		opts:   opts,
		log:    opts.Logger.With("component", "pipeline"),
		queue:  make(chan ingest.Record, opts.QueueSize),
		raised: make(chan signal.Signal, 64),
		// Two batches may wait for the writer, which holds up to three more
		// (one being finished, one queued, one handed over, their events
		// encoding meanwhile) while one fills: enough to keep the stages
		// busy, and it bounds the events held in memory to about six batches.
		results: make(chan *batch, 2),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		parsers: newLRU[format.Parser](opts.MaxStreams),
		sent:    newLRU[time.Time](65536),
	}
	p.m = newMetrics(opts.Registerer, func() float64 { return float64(len(p.queue)) })
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.detectLoop() }()
	go func() { defer wg.Done(); p.writeLoop() }()
	go func() { wg.Wait(); close(p.done) }()
	return p, nil
}

// Submit queues records, blocking while the queue is full (backpressure).
func (p *Pipeline) Submit(ctx context.Context, recs []ingest.Record) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	// The received counter is looked up once per run of records from one
	// input kind, not once per record.
	label, n := "", 0
	count := func() {
		if n > 0 {
			p.m.received.WithLabelValues(label).Add(float64(n))
		}
	}
	defer count()
	for i := range recs {
		select {
		case p.queue <- recs[i]:
			p.nReceived.Add(1)
			if l := sourceLabel(recs[i].Source); l != label {
				count()
				label, n = l, 0
			}
			n++
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Raise passes a signal that did not come from a detector (e.g. an input
// gone silent) into the alert path, in order with the event stream.
func (p *Pipeline) Raise(ctx context.Context, s signal.Signal) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	select {
	case p.raised <- s:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting records, processes everything queued, flushes the
// store writes and returns when done or when ctx ends.
func (p *Pipeline) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		close(p.queue)
		p.mu.Unlock()
	})
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("closing pipeline: %w", ctx.Err())
	}
}

// Stats is a point-in-time view of the pipeline's counters.
type Stats struct {
	Queued                                  int
	Received, Events, Quarantined, NoEvents uint64
}

// Stats returns the queue depth and the record accounting.
func (p *Pipeline) Stats() Stats {
	return Stats{
		Queued: len(p.queue), Received: p.nReceived.Load(), Events: p.nEvents.Load(),
		Quarantined: p.nQuarantined.Load(), NoEvents: p.nNoEvent.Load(),
	}
}

func (p *Pipeline) parserFor(rec *ingest.Record) (format.Parser, error) {
	// Per-stream parser state (Zeek headers, sshd pid → address) is kept per
	// source and sending host, so two syslog senders never share it.
	key := rec.Format + "\x00" + rec.Source + "\x00" + rec.Host
	if ps, ok := p.parsers.get(key); ok {
		return ps, nil
	}
	var ps format.Parser
	if rec.Format == "" || rec.Format == "auto" {
		ps = format.NewAuto(p.opts.Parse)
	} else {
		f, ok := format.Lookup(rec.Format)
		if !ok {
			return nil, &format.RecordError{Reason: format.ReasonUnknownFormat, Detail: "no format named " + rec.Format}
		}
		ps = f.NewParser(p.opts.Parse)
	}
	p.parsers.put(key, ps)
	return ps, nil
}

func (p *Pipeline) detectLoop() {
	defer close(p.results)
	ctx := context.Background()
	cur := &batch{}
	ticker := time.NewTicker(p.opts.FlushInterval)
	defer ticker.Stop()
	flush := func() {
		if cur.records+len(cur.sigs) == 0 {
			return
		}
		p.results <- cur
		cur = &batch{}
	}
	emit := func(s signal.Signal) {
		p.m.signals.WithLabelValues(s.Detector).Inc()
		cur.sigs = append(cur.sigs, s)
	}
	// checkpoint ends the batch and, when records changed the state since
	// the last capture, captures it and sends a barrier after the batch.
	var ckC <-chan time.Time
	since := 0 // records since the last capture
	checkpoint := func() {
		flush()
		if since == 0 {
			return
		}
		ck, err := p.opts.Checkpoint.Capture()
		if err != nil {
			p.m.errors.WithLabelValues("checkpoint").Inc()
			p.log.Error("capturing detector state failed; the last checkpoint stays current", "err", err)
			return
		}
		since = 0
		p.results <- &batch{barrier: true, ck: ck}
	}
	if p.opts.Checkpoint != nil {
		t := time.NewTicker(p.opts.CheckpointEvery)
		defer t.Stop()
		ckC = t.C
	}
	for {
		select {
		case rec, ok := <-p.queue:
			if !ok {
				// Open windows end with a finite input; with checkpoints the
				// stream goes on after a restart, so they are saved instead.
				if p.opts.Checkpoint != nil {
					checkpoint()
					return
				}
				p.opts.Engine.Flush(ctx, emit)
				flush()
				return
			}
			p.process(ctx, &rec, cur, emit)
			since++
			if len(cur.events)+len(cur.quar) >= p.opts.BatchSize {
				flush()
			}
		case s := <-p.raised:
			emit(s)
		case <-ticker.C:
			flush()
		case <-ckC:
			checkpoint()
		}
	}
}

func (p *Pipeline) process(ctx context.Context, rec *ingest.Record, cur *batch, emit detect.Emit) {
	cur.records++
	if rec.Commit != nil {
		cur.commits = append(cur.commits, rec.Commit)
	}
	quarantine := func(reason string) {
		if rec.Tally != nil {
			rec.Tally.Quarantined(reason)
		}
		p.nQuarantined.Add(1)
		p.m.quarantined.WithLabelValues(reason).Inc()
		raw := rec.Data
		if len(raw) > store.MaxQuarantineRaw {
			raw = raw[:store.MaxQuarantineRaw]
		}
		cur.quar = append(cur.quar, store.Quarantined{
			Time: p.opts.Now().UTC(), Source: rec.Source, Position: rec.Position, Reason: reason,
			Raw: append([]byte(nil), raw...),
		})
	}
	switch {
	case rec.Format == ingest.FormatOversize || len(rec.Data) > p.opts.MaxRecordBytes:
		quarantine(format.ReasonTooLarge)
		return
	case rec.Format == ingest.FormatInvalidJSON:
		quarantine(format.ReasonInvalidJSON)
		return
	case rec.Format == ingest.FormatEmpty:
		quarantine(format.ReasonEmpty)
		return
	}
	ps, err := p.parserFor(rec)
	if err != nil {
		quarantine(reasonOf(err))
		return
	}
	ev := &event.Event{Fields: make(map[string]any, max(p.fieldsHint, 16))}
	ev.Source = rec.Source
	ev.Raw = rec.Data
	ev.Received = rec.Received
	if ev.Received.IsZero() {
		ev.Received = p.opts.Now().UTC()
	}
	ev.ID = event.DeriveIDInto(&p.idBuf, rec.Source, rec.Position, rec.Data)
	if err := ps.Parse(rec.Data, ev); err != nil {
		if errors.Is(err, format.ErrNoEvent) {
			if rec.Tally != nil {
				rec.Tally.NoEvent()
			}
			p.nNoEvent.Add(1)
			return
		}
		quarantine(reasonOf(err))
		return
	}
	if rec.Host != "" {
		if _, ok := ev.Fields["log.source.address"]; !ok {
			ev.Set("log.source.address", rec.Host)
		}
	}
	if ev.Time.IsZero() {
		ev.Time = ev.Received
	}
	// Purposes come from the config only, never from the record itself.
	if rec.Purposes != nil {
		ev.Fields[purpose.Field] = rec.Purposes
	} else {
		delete(ev.Fields, purpose.Field)
	}
	p.fieldsHint = min(len(ev.Fields), 256)
	if rec.Tally != nil {
		rec.Tally.Event()
	}
	p.nEvents.Add(1)
	p.m.events.WithLabelValues(ev.Format).Inc()
	before := len(cur.sigs)
	p.opts.Engine.Process(ctx, ev, emit)
	if p.opts.StoreAllEvents || len(cur.sigs) > before {
		cur.events = append(cur.events, ev)
	}
}

func reasonOf(err error) string {
	var re *format.RecordError
	if errors.As(err, &re) && re.Reason != "" {
		return re.Reason
	}
	return "parse_error"
}

// writeLoop writes batches in order. A batch's events go to the store as
// soon as the batch arrives, so their encoding (the CPU-heavy part of
// AppendEvents, done before the store's write lock) overlaps the previous
// batch's write. The rest (quarantine, signals, notifications, offset
// commits) stays in batch order, each after its batch's events are stored.
func (p *Pipeline) writeLoop() {
	ctx := context.Background()
	type pending struct {
		b      *batch
		events int
		start  time.Time
		stored chan error
	}
	queue := make(chan pending, 1)
	go func() {
		defer close(queue)
		for b := range p.results {
			pd := pending{b: b, events: len(b.events), start: time.Now(), stored: make(chan error, 1)}
			go func() {
				err := p.appendEvents(ctx, b)
				b.events = nil // let them go while the batch's signals are recorded
				pd.stored <- err
			}()
			queue <- pd
		}
	}()
	// failed: a batch was not stored. Its records stay uncommitted for the
	// life of the process (they are read again after a restart), so the
	// committed offsets of a file stop before them while the state moves
	// on: no later checkpoint can match, and every one is aborted.
	failed := false
	for pd := range queue {
		stored := <-pd.stored
		if pd.b.barrier {
			p.completeCheckpoint(ctx, pd.b.ck, failed)
			continue
		}
		if !p.write(ctx, pd.b, pd.events, pd.start, stored) {
			failed = true
			continue
		}
		for _, c := range pd.b.commits {
			c()
		}
	}
}

// completeCheckpoint completes a barrier's checkpoint: the batches before
// it are written and committed, the ones after it not yet, so the inputs'
// committed offsets are exactly those of the state. After a failed batch
// it aborts instead (the offsets stop before that batch's records, which
// the state has seen).
func (p *Pipeline) completeCheckpoint(ctx context.Context, ck Checkpoint, failed bool) {
	switch {
	case failed:
		ck.Abort()
		p.log.Warn("checkpoint skipped: a batch was not stored, so offsets cannot match the detectors' state until a restart")
	default:
		if err := ck.Complete(ctx); err != nil {
			p.m.errors.WithLabelValues("checkpoint").Inc()
			p.log.Error("completing checkpoint failed", "err", err)
		}
	}
}

func (p *Pipeline) appendEvents(ctx context.Context, b *batch) error {
	if len(b.events) == 0 {
		return nil
	}
	return p.opts.Store.AppendEvents(ctx, b.events)
}

// write finishes batch b, whose events (how many) were stored from start
// with result stored, and reports whether all of it was stored (only then
// may its records be committed).
func (p *Pipeline) write(ctx context.Context, b *batch, events int, start time.Time, stored error) bool {
	ok := true
	if stored != nil {
		ok = false
		p.m.errors.WithLabelValues("store_events").Inc()
		p.log.Error("storing events failed", "err", stored, "count", events)
	}
	if len(b.quar) > 0 {
		if err := p.opts.Store.Quarantine(ctx, b.quar); err != nil {
			ok = false
			p.m.errors.WithLabelValues("store_quarantine").Inc()
			p.log.Error("storing quarantine failed", "err", err, "count", len(b.quar))
		}
	}
	if len(b.sigs) > 0 {
		ids := make([]string, len(b.sigs))
		for i := range b.sigs {
			ids[i] = alert.DeriveID(&b.sigs[i], p.opts.ThrottleWindow)
		}
		alerts, created, err := p.opts.Store.RecordSignals(ctx, b.sigs, ids)
		if err != nil {
			ok = false
			p.m.errors.WithLabelValues("store_alerts").Inc()
			p.log.Error("recording signals failed", "err", err, "count", len(b.sigs))
		} else {
			p.notify(ctx, alerts, created)
		}
	}
	p.m.writeSeconds.Observe(time.Since(start).Seconds())
	p.m.done.Add(float64(b.records))
	// Not committing keeps file offsets behind, so the records are re-read after a restart.
	return ok
}

func (p *Pipeline) notify(ctx context.Context, alerts []alert.Alert, created []bool) {
	now := p.opts.Now()
	var out []alert.Alert
	seen := map[string]bool{}
	for i := range alerts {
		a := alerts[i]
		if seen[a.ID] {
			continue
		}
		seen[a.ID] = true
		if created[i] {
			p.m.alerts.WithLabelValues(string(a.Level)).Inc()
		}
		last, sentBefore := p.sent.get(a.ID)
		if created[i] || !sentBefore || now.Sub(last) >= p.opts.NotifyEvery {
			p.sent.put(a.ID, now)
			out = append(out, a)
		}
	}
	if len(out) > 0 && p.opts.Notify != nil {
		p.opts.Notify(ctx, out)
	}
}

func sourceLabel(s string) string {
	// Bound label cardinality: file sources collapse to "file".
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return s[:i]
		}
	}
	return s
}
