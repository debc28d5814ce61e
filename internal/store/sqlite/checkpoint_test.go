package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
)

// TestCheckpoint checks that the checkpointer's connection (query_only,
// like the readers) can copy every committed WAL frame into the database
// file, and that a RESTART checkpoint leaves the WAL ready to be rewound.
func TestCheckpoint(t *testing.T) {
	ctx := context.Background()
	// An interval longer than the test: the background loop stays idle.
	s, err := Open(ctx, t.TempDir(), Options{CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	evs := make([]*event.Event, 200)
	for i := range evs {
		evs[i] = &event.Event{ID: fmt.Sprint("e", i), Received: time.Unix(int64(i), 0),
			Fields: map[string]any{"message": fmt.Sprintf("%0500d", i)}, Raw: []byte("raw")}
	}
	if err := s.AppendEvents(ctx, evs); err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
	for _, mode := range []string{"PASSIVE", "RESTART"} {
		logFrames, done, err := s.checkpoint(ctx, mode)
		if err != nil {
			t.Fatalf("checkpoint(%s): %v", mode, err)
		}
		if logFrames == 0 || done != logFrames {
			t.Errorf("checkpoint(%s): %d of %d WAL frames copied, want all of a non-empty WAL", mode, done, logFrames)
		}
	}
	got, err := s.GetEvents(ctx, []string{"e0", "e199"})
	if err != nil || len(got) != 2 {
		t.Fatalf("GetEvents after checkpoints = %d events, %v", len(got), err)
	}
}
