package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/ingest"
	"github.com/rampart-ids/rampart/internal/pipeline"
	"github.com/rampart-ids/rampart/internal/store"
)

// countDetector counts the events it saw: its "state".
type countDetector struct{ seen atomic.Int64 }

func (d *countDetector) Name() string { return "count" }
func (d *countDetector) Detect(context.Context, *event.Event, detect.Emit) error {
	d.seen.Add(1)
	return nil
}

// recordingCheckpointer pairs each checkpoint's captured state (events
// seen) with the records committed when it completes.
type recordingCheckpointer struct {
	det       *countDetector
	commits   *atomic.Int64
	mu        sync.Mutex
	completed [][2]int64 // captured, committed
	aborted   int
}

type recordedCheckpoint struct {
	c        *recordingCheckpointer
	captured int64
}

func (c *recordingCheckpointer) Capture() (pipeline.Checkpoint, error) {
	return &recordedCheckpoint{c: c, captured: c.det.seen.Load()}, nil
}

func (k *recordedCheckpoint) Complete(context.Context) error {
	k.c.mu.Lock()
	defer k.c.mu.Unlock()
	k.c.completed = append(k.c.completed, [2]int64{k.captured, k.c.commits.Load()})
	return nil
}

func (k *recordedCheckpoint) Abort() {
	k.c.mu.Lock()
	defer k.c.mu.Unlock()
	k.c.aborted++
}

// failingStore fails the event write of the batch holding event failID.
type failingStore struct {
	store.Store
	failID string
}

func (s failingStore) AppendEvents(ctx context.Context, evs []*event.Event) error {
	for _, ev := range evs {
		if ev.ID == s.failID {
			return errors.New("disk full")
		}
	}
	return s.Store.AppendEvents(ctx, evs)
}

func checkpointRun(t *testing.T, st store.Store, n int) (*recordingCheckpointer, int64) {
	t.Helper()
	det := &countDetector{}
	var commits atomic.Int64
	ck := &recordingCheckpointer{det: det, commits: &commits}
	p, err := pipeline.New(pipeline.Options{Engine: detect.NewEngine(det), Store: st, BatchSize: 64, StoreAllEvents: true,
		FlushInterval: time.Millisecond, Checkpoint: ck, CheckpointEvery: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < n; i += 100 {
		var recs []ingest.Record
		for j := i; j < i+100 && j < n; j++ {
			recs = append(recs, ingest.Record{Source: "test", Position: strconv.Itoa(j), Format: "ecs",
				Data:   fmt.Appendf(nil, `{"@timestamp":"2026-11-20T10:00:00Z","user":{"name":"u%d"},"event":{"dataset":"x"}}`, j),
				Commit: func() { commits.Add(1) }})
		}
		if err := p.Submit(ctx, recs); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // let checkpoints fall between submissions
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return ck, commits.Load()
}

// TestCheckpointsAlignStateAndCommits: every completed checkpoint saw
// exactly the records committed when it completed (the offsets it records
// match its state), and the last one, at Close, covers every record.
func TestCheckpointsAlignStateAndCommits(t *testing.T) {
	const n = 20000
	ck, commits := checkpointRun(t, openStore(t), n)
	if commits != n {
		t.Fatalf("%d records committed, want %d", commits, n)
	}
	if len(ck.completed) < 3 {
		t.Fatalf("%d checkpoints completed, want several", len(ck.completed))
	}
	mid := 0
	for i, c := range ck.completed {
		if c[0] != c[1] {
			t.Errorf("checkpoint %d: state saw %d records, %d committed when it completed", i, c[0], c[1])
		}
		if c[0] > 0 && c[0] < n {
			mid++
		}
	}
	if mid == 0 {
		t.Error("no checkpoint fell between records: the test checks only the ends")
	}
	if last := ck.completed[len(ck.completed)-1]; last[0] != n {
		t.Errorf("last checkpoint saw %d records, want all %d", last[0], n)
	}
	if ck.aborted != 0 {
		t.Errorf("%d checkpoints aborted without a failure", ck.aborted)
	}
}

// TestCheckpointAbortedAfterFailedBatch: a batch that could not be stored
// stays uncommitted, so no checkpoint after it can match its state: each is
// aborted, not completed; those before it complete.
func TestCheckpointAbortedAfterFailedBatch(t *testing.T) {
	const n = 3000
	st := failingStore{Store: openStore(t)}
	// Event ids derive from source, position and bytes: find record 1500's.
	ev := event.New()
	ev.ID = event.DeriveID("test", "1500", fmt.Appendf(nil, `{"@timestamp":"2026-11-20T10:00:00Z","user":{"name":"u%d"},"event":{"dataset":"x"}}`, 1500))
	st.failID = ev.ID
	ck, commits := checkpointRun(t, st, n)
	if commits >= n {
		t.Fatalf("%d records committed: the failed batch was committed too", commits)
	}
	if ck.aborted == 0 {
		t.Fatal("no checkpoint aborted after the failed batch")
	}
	if len(ck.completed) == 0 {
		t.Error("no checkpoint completed before the failed batch")
	}
	for i, c := range ck.completed {
		if c[0] != c[1] || c[0] > 1500 {
			t.Errorf("completed checkpoint %d: state saw %d records, %d committed (record 1500 failed)", i, c[0], c[1])
		}
	}
}

// TestNoCheckpointWhenIdle: without records since the last capture there
// is nothing new to save: an idle pipeline takes no checkpoints.
func TestNoCheckpointWhenIdle(t *testing.T) {
	det := &countDetector{}
	var commits atomic.Int64
	ck := &recordingCheckpointer{det: det, commits: &commits}
	p, err := pipeline.New(pipeline.Options{Engine: detect.NewEngine(det), Store: openStore(t),
		FlushInterval: time.Millisecond, Checkpoint: ck, CheckpointEvery: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(ck.completed)+ck.aborted != 0 {
		t.Errorf("%d checkpoints completed and %d aborted on an idle pipeline, want none", len(ck.completed), ck.aborted)
	}
}
