package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
	"github.com/rampart-ids/rampart/internal/store/storetest"
)

func open(t testing.TB, dir string) *sqlite.Store { return openWith(t, dir, sqlite.Options{}) }

func openWith(t testing.TB, dir string, opts sqlite.Options) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return openWith(t, t.TempDir(), sqlite.Options{Now: now})
	})
}

// TestReopen checks that data survives a close and that migrating an
// up-to-date database again is a no-op.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ev := &event.Event{ID: "e1", Received: time.Unix(1700000000, 0).UTC(), Fields: map[string]any{"n": int64(1)}, Raw: []byte("x")}
	if err := s.AppendEvents(ctx, []*event.Event{ev}); err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
	if err := s.SetOffset(ctx, "k", store.Offset{FileID: "f", Offset: 7}); err != nil {
		t.Fatalf("SetOffset: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s2 := open(t, dir)
	got, err := s2.GetEvents(ctx, []string{"e1"})
	if err != nil || len(got) != 1 || got[0].Fields["n"] != int64(1) {
		t.Fatalf("after reopen GetEvents = %v, %v", got, err)
	}
	if o, err := s2.GetOffset(ctx, "k"); err != nil || o.Offset != 7 {
		t.Errorf("after reopen GetOffset = %+v, %v", o, err)
	}
}

func TestOpenUnderAFile(t *testing.T) {
	dir := t.TempDir()
	open(t, dir) // creates dir/rampart.db
	// The data directory cannot live below a regular file.
	if _, err := sqlite.Open(context.Background(), filepath.Join(dir, sqlite.FileName), sqlite.Options{}); err == nil {
		t.Errorf("Open with a regular file as the directory succeeded")
	}
}

func TestFileMode(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if err := s.SetOffset(context.Background(), "k", store.Offset{FileID: "f"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{sqlite.FileName, sqlite.FileName + "-wal"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %o, want 600", name, mode)
		}
	}
}

func TestGetEventsLimit(t *testing.T) {
	s := open(t, t.TempDir())
	ids := make([]string, sqlite.MaxGetEvents+1)
	if _, err := s.GetEvents(context.Background(), ids); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("GetEvents over the limit: error %v, want ErrInvalid", err)
	}
}
