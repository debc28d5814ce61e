package app

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/detect/threshold"
	"github.com/rampart-ids/rampart/internal/format/auth/authtest"
	"github.com/rampart-ids/rampart/internal/ingest/file"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
	"github.com/rampart-ids/rampart/internal/testutil"
)

func thresholdEngine(t *testing.T) (*detect.Engine, *threshold.Detector) {
	t.Helper()
	d, err := threshold.New(threshold.Options{Paths: []string{filepath.Join(testutil.ModuleRoot(), "rules", "threshold")}})
	if err != nil {
		t.Fatal(err)
	}
	return detect.NewEngine(d), d
}

func snapshotOf(t *testing.T, d *threshold.Detector) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := d.Snapshot(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestCheckpointsRestore: a completed checkpoint is what the next start
// restores; an aborted capture and one cut short by a crash (its folder
// left half-written) change nothing, and the next completed checkpoint
// removes their leftovers.
func TestCheckpointsRestore(t *testing.T) {
	dir := t.TempDir()
	evs := authtest.LoghubOpenSSH(t, 2017)
	eng, det := thresholdEngine(t)
	noFiles := func() []*file.Input { return nil }
	cp := NewCheckpoints(dir, eng, noFiles, slog.New(slog.DiscardHandler))
	if off := cp.Restore(); off != nil {
		t.Fatalf("empty state dir: offsets %v", off)
	}
	ctx := context.Background()
	feed := func(from, to int) {
		for _, ev := range evs[from:to] {
			eng.Process(ctx, ev, func(signal.Signal) {})
		}
	}
	feed(0, len(evs)/3)
	ck, err := cp.Capture()
	if err != nil {
		t.Fatal(err)
	}
	if err := ck.Complete(ctx); err != nil {
		t.Fatal(err)
	}
	want := snapshotOf(t, det)
	if det.Stats().Buckets == 0 {
		t.Fatal("no buckets to checkpoint")
	}

	feed(len(evs)/3, len(evs)/2)
	aborted, err := cp.Capture()
	if err != nil {
		t.Fatal(err)
	}
	aborted.Abort()
	feed(len(evs)/2, 2*len(evs)/3)
	if _, err := cp.Capture(); err != nil { // never completed: a crash
		t.Fatal(err)
	}

	eng2, det2 := thresholdEngine(t)
	cp2 := NewCheckpoints(dir, eng2, noFiles, slog.New(slog.DiscardHandler))
	if off := cp2.Restore(); off == nil {
		t.Error("the completed checkpoint has no offsets map")
	}
	if got := snapshotOf(t, det2); !bytes.Equal(got, want) {
		t.Errorf("restored state (%d bytes) is not the completed checkpoint's (%d bytes)", len(got), len(want))
	}
	ck, err = cp2.Capture()
	if err != nil {
		t.Fatal(err)
	}
	if err := ck.Complete(ctx); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	cur, _ := os.ReadFile(filepath.Join(dir, "CURRENT"))
	if len(names) != 2 || !strings.Contains(strings.Join(names, " "), strings.TrimSpace(string(cur))) {
		t.Errorf("state dir holds %v (CURRENT %q), want CURRENT and its folder only", names, cur)
	}
}

// TestResumeOffsetsOnce: the checkpoint's offset answers a key's first
// lookup (and its twin key's), the store every later one.
func TestResumeOffsetsOnce(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	saved := store.Offset{FileID: "1:2", Offset: 900}
	for _, k := range []string{"file:/var/log/auth.log", "file-id:1:2"} {
		if err := st.SetOffset(ctx, k, saved); err != nil {
			t.Fatal(err)
		}
	}
	ck := store.Offset{FileID: "1:2", Offset: 400}
	r := &resumeOffsets{OffsetStore: st, at: map[string]store.Offset{"file:/var/log/auth.log": ck, "file-id:1:2": ck}}
	for i, tc := range []struct {
		key  string
		want store.Offset
	}{{"file:/var/log/auth.log", ck}, {"file-id:1:2", saved}, {"file:/var/log/auth.log", saved}} {
		got, err := r.GetOffset(ctx, tc.key)
		if err != nil || got != tc.want {
			t.Errorf("lookup %d of %s = %v, %v; want %v", i, tc.key, got, err, tc.want)
		}
	}
}
