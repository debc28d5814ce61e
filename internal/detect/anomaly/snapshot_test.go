package anomaly

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/snapshot"
)

// restartAt replays evs, restarting both detectors from snapshots at cut.
func restartAt(t *testing.T, newDets func() (*Anomaly, *Rarity), evs []*event.Event, cut int) []signal.Signal {
	t.Helper()
	a, r := newDets()
	out := runEvents(detect.NewEngine(a, r), evs[:cut])
	var sa, sr bytes.Buffer
	if err := a.Snapshot(&sa); err != nil {
		t.Fatal(err)
	}
	if err := r.Snapshot(&sr); err != nil {
		t.Fatal(err)
	}
	a2, r2 := newDets()
	if err := a2.Restore(&sa); err != nil {
		t.Fatal(err)
	}
	if err := r2.Restore(&sr); err != nil {
		t.Fatal(err)
	}
	return append(out, runEvents(detect.NewEngine(a2, r2), evs[cut:])...)
}

func sameSignals(t *testing.T, got, want []signal.Signal) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Fatalf("signals differ after restart:\n%s\nwant\n%s", g, w)
	}
}

func TestSnapshotRestartSameSignals(t *testing.T) {
	defaults := func() (*Anomaly, *Rarity) {
		a, _ := NewAnomaly(AnomalyOptions{})
		r, _ := NewRarity(RarityOptions{})
		return a, r
	}
	evs := scenario()
	a, r := defaults()
	want := runEvents(detect.NewEngine(a, r), evs)
	if len(want) < 5 {
		t.Fatalf("reference run has %d signals", len(want))
	}
	for _, cut := range []int{1, len(evs) / 2, len(evs) - 5} {
		sameSignals(t, restartAt(t, defaults, evs, cut), want)
	}
}

func TestSnapshotRestartOpenSSH(t *testing.T) {
	evs := opensshEvents(t)
	dets := func() (*Anomaly, *Rarity) {
		a, r, _ := opensshEngine(t)
		return a, r
	}
	a, r := dets()
	want := runEvents(detect.NewEngine(a, r), evs)
	sameSignals(t, restartAt(t, dets, evs, 1000), want)
}

func TestRestoreRefusesTampered(t *testing.T) {
	a, r := func() (*Anomaly, *Rarity) { a, _, _ := newEngine(t); _, r, _ := newEngine(t); return a, r }()
	runEvents(detect.NewEngine(a, r), scenario())
	var sa, sr bytes.Buffer
	if err := a.Snapshot(&sa); err != nil {
		t.Fatal(err)
	}
	if err := r.Snapshot(&sr); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		data    []byte
		restore func([]byte) error
	}{
		{"anomaly", sa.Bytes(), func(b []byte) error { x, _, _ := newEngine(t); return x.Restore(bytes.NewReader(b)) }},
		{"rarity", sr.Bytes(), func(b []byte) error { _, x, _ := newEngine(t); return x.Restore(bytes.NewReader(b)) }},
	} {
		if err := tc.restore(tc.data); err != nil {
			t.Fatalf("%s: intact snapshot refused: %v", tc.name, err)
		}
		for off := 0; off < len(tc.data); off += max(1, len(tc.data)/97) {
			bad := bytes.Clone(tc.data)
			bad[off] ^= 1
			if err := tc.restore(bad); !errors.Is(err, snapshot.ErrInvalid) {
				t.Fatalf("%s: flipped byte %d of %d accepted (%v)", tc.name, off, len(tc.data), err)
			}
		}
	}
	// A rarity snapshot is not an anomaly snapshot.
	x, _, _ := newEngine(t)
	if err := x.Restore(bytes.NewReader(sr.Bytes())); !errors.Is(err, snapshot.ErrInvalid) {
		t.Fatalf("wrong kind accepted: %v", err)
	}
}

func TestSnapshotFiles(t *testing.T) {
	dir := t.TempDir()
	a, r, e := newEngine(t)
	want := runEvents(e, scenario())
	for _, s := range []Snapshotter{a, r} {
		if err := WriteSnapshot(filepath.Join(dir, s.Name()+".snap"), s); err != nil {
			t.Fatal(err)
		}
	}
	a2, r2, e2 := newEngine(t)
	if err := LoadSnapshot(filepath.Join(dir, "missing.snap"), a2); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	for _, s := range []Snapshotter{a2, r2} {
		if err := LoadSnapshot(filepath.Join(dir, s.Name()+".snap"), s); err != nil {
			t.Fatal(err)
		}
	}
	// The restored detectors have learned everything: replaying the same
	// stream again fires only what is still new to them.
	again := runEvents(e2, scenario())
	if len(again) >= len(want) {
		t.Fatalf("restored detectors fired %d signals, fresh ones %d", len(again), len(want))
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.snap"), []byte("RAMPSNAP garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := LoadSnapshot(filepath.Join(dir, "bad.snap"), a2); !errors.Is(err, snapshot.ErrInvalid) {
		t.Fatalf("bad file: %v", err)
	}
}
