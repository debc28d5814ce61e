package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/store/storetest"
)

func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	return openTestOpts(t, dir, Options{})
}

func openTestOpts(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformanceCollidingKeys runs the suite with an index key that
// collides for most ids, so ids are told apart by the id kept in the chunk
// and the extra index (rare with the real 64-bit key).
func TestConformanceCollidingKeys(t *testing.T) {
	keyOf = func(id string) int64 { return int64(len(id) % 3) }
	t.Cleanup(func() { keyOf = idKey })
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return openTestOpts(t, t.TempDir(), Options{Now: now})
	})
}

// TestConformanceMerges runs the suite with staged keys merged into
// event_index every few dozen ids, alone and with colliding keys.
func TestConformanceMerges(t *testing.T) {
	mergeKeys = 37
	t.Cleanup(func() { mergeKeys = 1 << 16 })
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return openTestOpts(t, t.TempDir(), Options{Now: now})
	})
	t.Run("CollidingKeys", func(t *testing.T) {
		keyOf = func(id string) int64 { return int64(len(id) % 3) }
		t.Cleanup(func() { keyOf = idKey })
		storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
			return openTestOpts(t, t.TempDir(), Options{Now: now})
		})
	})
}

// TestStagedKeysReopen: keys staged when the store closes are staged again
// on open: a re-delivered id is still ignored, before and after a merge.
func TestStagedKeysReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t0 := time.Unix(1_700_000_000, 0).UTC()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var first []*event.Event
	for i := range 300 {
		first = append(first, mk(fmt.Sprintf("s-%d", i), t0.Add(time.Duration(i)*time.Second)))
	}
	if err := s.AppendEvents(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	if n := s.staged.len(); n != 300 {
		t.Fatalf("staged after reopen: %d keys, want 300", n)
	}
	again := func(label string, want int64) {
		t.Helper()
		dup := mk("s-7", t0.Add(time.Hour))
		if err := s.AppendEvents(ctx, []*event.Event{dup}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetEvents(ctx, []string{"s-7", "s-299"})
		if err != nil || len(got) != 2 || !got[0].Received.Equal(t0.Add(7*time.Second)) {
			t.Errorf("%s: GetEvents = %v, %v; want the first s-7 and s-299", label, got, err)
		}
		if st, err := s.Stats(ctx); err != nil || st.Events != want {
			t.Errorf("%s: Stats = %+v, %v; want %d events", label, st, err, want)
		}
	}
	again("staged", 300)
	mergeKeys = 10
	t.Cleanup(func() { mergeKeys = 1 << 16 })
	if err := s.AppendEvents(ctx, []*event.Event{mk("s-new", t0.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	if n := s.staged.len(); n != 0 {
		t.Fatalf("staged after a merge: %d keys, want 0", n)
	}
	var merged int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM event_index`).Scan(&merged); err != nil || merged != 301 {
		t.Fatalf("event_index after a merge: %d rows, %v; want 301", merged, err)
	}
	again("merged", 301)
	if got, err := s.PurgeEvents(ctx, t0.Add(10*time.Second)); err != nil || got != 10 {
		t.Errorf("PurgeEvents = %d, %v; want 10", got, err)
	}
	var left int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM event_index`).Scan(&left); err != nil || left != 291 {
		t.Errorf("event_index after purge: %d rows, %v; want 291", left, err)
	}
}

func mk(id string, at time.Time) *event.Event {
	return &event.Event{ID: id, Time: at, Received: at, Source: "test", Format: "ecs",
		Fields: map[string]any{"message": "m " + id}, Raw: []byte("raw " + id)}
}

// TestCorruptChunk: a chunk that does not decode is an error for the
// readers of its events, not a crash and not other chunks' problem; a
// re-delivered id from it is stored again; purge deletes it once due and
// reports one it cannot cut.
func TestCorruptChunk(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	t0 := time.Unix(1_700_000_000, 0).UTC()
	var batches [3][]*event.Event
	for b := range batches {
		for i := range 100 {
			batches[b] = append(batches[b], mk(fmt.Sprintf("c%d-%d", b, i), t0.Add(time.Duration(b)*time.Hour+time.Duration(i)*time.Second)))
		}
		if err := s.AppendEvents(ctx, batches[b]); err != nil {
			t.Fatal(err)
		}
	}
	corrupt := func(chunk int64, mangle func([]byte) []byte) {
		t.Helper()
		var data []byte
		if err := s.w.QueryRowContext(ctx, `SELECT data FROM event_chunks WHERE id = ?`, chunk).Scan(&data); err != nil {
			t.Fatal(err)
		}
		if _, err := s.w.ExecContext(ctx, `UPDATE event_chunks SET data = ? WHERE id = ?`, mangle(data), chunk); err != nil {
			t.Fatal(err)
		}
	}
	// Chunk 1: a frame's compressed bytes flipped; chunk 3: truncated.
	corrupt(1, func(b []byte) []byte {
		for i := len(b) - 200; i < len(b)-100; i++ {
			b[i] ^= 0x5a
		}
		return b
	})
	corrupt(3, func(b []byte) []byte { return b[:len(b)/2] })

	_, err := s.GetEvents(ctx, []string{"c1-5", "c0-99"})
	if err == nil || !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), "chunk 1") {
		t.Errorf("GetEvents from a corrupt chunk: err = %v, want a corrupt chunk 1 error", err)
	}
	if got, err := s.GetEvents(ctx, []string{"c1-5"}); err != nil || len(got) != 1 || got[0].Fields["message"] != "m c1-5" {
		t.Errorf("GetEvents from a sound chunk = %v, %v", got, err)
	}
	// Re-delivered: kept, since the copy in the corrupt chunk cannot be read.
	if err := s.AppendEvents(ctx, []*event.Event{mk("c0-99", t0.Add(5*time.Hour))}); err != nil {
		t.Fatalf("AppendEvents over a corrupt chunk: %v", err)
	}
	// Chunk 1 is due whole; chunk 3 straddles the cut and cannot be cut.
	n, err := s.PurgeEvents(ctx, t0.Add(2*time.Hour+30*time.Second))
	if err == nil || !strings.Contains(err.Error(), "chunk 3") {
		t.Errorf("PurgeEvents over a corrupt straddling chunk: err = %v, want it reported", err)
	}
	if n != 100+100 {
		t.Errorf("PurgeEvents = %d, want 200 (chunks 1 and 2 whole)", n)
	}
	got, err := s.GetEvents(ctx, []string{"c0-99", "c0-1", "c1-1"})
	if err != nil || len(got) != 1 || !got[0].Received.Equal(t0.Add(5*time.Hour)) {
		t.Errorf("after purge GetEvents = %v, %v; want only the re-delivered c0-99", got, err)
	}
	// Once its newest event is due it goes.
	if n, err := s.PurgeEvents(ctx, t0.Add(3*time.Hour)); err != nil || n != 100 {
		t.Errorf("PurgeEvents of the corrupt chunk = %d, %v; want 100, nil", n, err)
	}
}

// TestMigrateLegacyEvents: a data folder from before chunks (events table,
// schema version 3) opens with its events readable, deduplicated and
// purgeable, and the old table gone.
func TestMigrateLegacyEvents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := openDB(ctx, filepath.Join(dir, FileName), time.Second, true)
	if err != nil {
		t.Fatal(err)
	}
	old := fstest.MapFS{}
	for _, name := range []string{"00001_init.sql", "00002_audit.sql", "00003_suppressions.sql"} {
		b, err := fs.ReadFile(migrations, "migrations/"+name)
		if err != nil {
			t.Fatal(err)
		}
		old[name] = &fstest.MapFile{Data: b}
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, old, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_700_000_000, 0).UTC()
	const n = 5000
	want := map[string]*event.Event{}
	for i := range n {
		ev := mk(fmt.Sprintf("legacy-%d", i), t0.Add(time.Duration(i)*time.Second))
		fields, err := store.EncodeFields(ev.Fields)
		if err != nil {
			t.Fatal(err)
		}
		raw := ev.Raw
		if i%10 == 0 {
			raw, ev.Raw = []byte{}, nil // raw already purged
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO events (id, time, received, source, format, fields, raw)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, ev.ID, micros(ev.Time), micros(ev.Received), ev.Source, ev.Format, string(fields), raw); err != nil {
			t.Fatal(err)
		}
		want[ev.ID] = ev
	}
	db.Close()

	s := openTest(t, dir)
	ids := []string{"legacy-0", "legacy-1", "legacy-2047", "legacy-2048", "legacy-4999"}
	got, err := s.GetEvents(ctx, ids)
	if err != nil || len(got) != len(ids) {
		t.Fatalf("GetEvents after migration = %d events, %v", len(got), err)
	}
	for i, ev := range got {
		w := want[ids[i]]
		if ev.ID != w.ID || !ev.Received.Equal(w.Received) || ev.Fields["message"] != w.Fields["message"] || string(ev.Raw) != string(w.Raw) {
			t.Errorf("migrated %s = %+v, want %+v", ids[i], ev, w)
		}
	}
	dup := mk("legacy-7", t0.Add(time.Hour*24))
	if err := s.AppendEvents(ctx, []*event.Event{dup}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Stats(ctx); err != nil || st.Events != n {
		t.Errorf("Stats after migration = %+v, %v; want %d events", st, err, n)
	}
	var tables int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'events'`).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("legacy events table still there (%d, %v)", tables, err)
	}
	if got, err := s.PurgeEvents(ctx, t0.Add(1000*time.Second)); err != nil || got != 1000 {
		t.Errorf("PurgeEvents after migration = %d, %v; want 1000", got, err)
	}
}

// FuzzOpenChunk: any bytes decode to entries or an error, never a panic.
func FuzzOpenChunk(f *testing.F) {
	es, _ := entries(storetest.BenchEvents("fuzz", 130), new([]byte))
	f.Add(encodeChunk(es))
	f.Add(encodeChunk(es[:1]))
	f.Add([]byte{chunkVersion, 1, 1, 10, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := openChunk(b)
		if err != nil {
			return
		}
		r.all()
		r.at(r.events - 1)
	})
}

// TestChunkRoundTrip: entries, deleted ones included, come back as written.
func TestChunkRoundTrip(t *testing.T) {
	es, err := entries(storetest.BenchEvents("rt", 200), new([]byte))
	if err != nil {
		t.Fatal(err)
	}
	es[3] = entry{deleted: true}
	es[64] = entry{deleted: true}
	es[199].raw = nil
	r, err := openChunk(encodeChunk(es))
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.all()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(es) {
		t.Fatalf("%d entries, want %d", len(got), len(es))
	}
	for i := range es {
		if fmt.Sprint(got[i]) != fmt.Sprint(es[i]) {
			t.Fatalf("entry %d = %v, want %v", i, got[i], es[i])
		}
	}
	if e, err := r.at(150); err != nil || e.id != es[150].id {
		t.Errorf("at(150) = %v, %v", e.id, err)
	}
}

// TestChunkMutations decodes many damaged copies of a valid chunk (bytes
// flipped, cut, inserted): each is entries or an error, never a panic.
// FuzzOpenChunk goes further but is slow here: the package is large.
func TestChunkMutations(t *testing.T) {
	es, err := entries(storetest.BenchEvents("mut", 150), new([]byte))
	if err != nil {
		t.Fatal(err)
	}
	valid := encodeChunk(es)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		b := slices.Clone(valid)
		switch rng.IntN(3) {
		case 0:
			for range 1 + rng.IntN(4) {
				b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
			}
		case 1:
			b = b[:rng.IntN(len(b))]
		case 2:
			i := rng.IntN(len(b))
			b = slices.Insert(b, i, byte(rng.IntN(256)))
		}
		if r, err := openChunk(b); err == nil {
			got, _ := r.all()
			for _, e := range got {
				if !e.deleted {
					e.event()
				}
			}
			r.at(r.events - 1)
		}
	}
}

// TestFieldsDamaged: damaged binary fields are an error, never a panic.
func TestFieldsDamaged(t *testing.T) {
	evs := storetest.BenchEvents("f", 1)
	b, err := appendFields(nil, evs[0].Fields)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeFields(b); err != nil || fmt.Sprint(got) != fmt.Sprint(evs[0].Fields) {
		t.Fatalf("decodeFields = %v, %v", got, err)
	}
	for i := range b {
		decodeFields(b[:i])
		for _, x := range []byte{0, 0x80, 0xff, 7} {
			c := slices.Clone(b)
			c[i] = x
			decodeFields(c)
		}
	}
}

// TestReadWhileMerging: an event whose AppendEvents returned is found by
// every later GetEvents, while other batches are appended, staged keys
// merged and old chunks purged concurrently.
func TestReadWhileMerging(t *testing.T) {
	mergeKeys = 300
	t.Cleanup(func() { mergeKeys = 1 << 16 })
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	t0 := time.Unix(1_700_000_000, 0).UTC()
	const batches, size = 60, 100
	var stored atomic.Int64 // batches whose AppendEvents returned
	done := make(chan error, 1)
	go func() {
		for b := range batches {
			var evs []*event.Event
			for i := range size {
				evs = append(evs, mk(fmt.Sprintf("rw%d-%d", b, i), t0.Add(time.Duration(b)*time.Hour)))
			}
			if err := s.AppendEvents(ctx, evs); err != nil {
				done <- err
				return
			}
			stored.Store(int64(b + 1))
			if b%10 == 9 { // the first batch goes; later reads skip it
				if _, err := s.PurgeEvents(ctx, t0.Add(time.Minute)); err != nil {
					done <- err
					return
				}
			}
		}
		done <- nil
	}()
	for {
		n := stored.Load()
		var ids []string
		for b := int64(1); b < n; b++ {
			ids = append(ids, fmt.Sprintf("rw%d-%d", b, b%size), fmt.Sprintf("rw%d-%d", b, (b*7)%size))
		}
		got, err := s.GetEvents(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ids) {
			t.Fatalf("with %d batches stored, GetEvents found %d of %d", n, len(got), len(ids))
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			return
		default:
		}
	}
}

// TestCorruptChunkIDNotReused: the index entries of a corrupt chunk that
// was deleted stay behind; the next chunk must not take its id, or they
// would point into it (found by review: a lookup of an old id then failed
// the whole read as a corrupt chunk, losing the sound events asked with it).
func TestCorruptChunkIDNotReused(t *testing.T) {
	mergeKeys = 1 // every key merged into event_index at once
	t.Cleanup(func() { mergeKeys = 1 << 16 })
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	t0 := time.Unix(1_700_000_000, 0).UTC()
	var old []*event.Event
	for i := range 100 {
		old = append(old, mk(fmt.Sprintf("old-%d", i), t0.Add(time.Duration(i)*time.Second)))
	}
	if err := s.AppendEvents(ctx, old); err != nil {
		t.Fatal(err)
	}
	var data []byte
	if err := s.w.QueryRowContext(ctx, `SELECT data FROM event_chunks WHERE id = 1`).Scan(&data); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE event_chunks SET data = ? WHERE id = 1`, data[:len(data)/2]); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeEvents(ctx, t0.Add(time.Hour)); err != nil || n != 100 {
		t.Fatalf("PurgeEvents of the corrupt chunk = %d, %v; want 100", n, err)
	}
	if err := s.AppendEvents(ctx, []*event.Event{mk("new", t0.Add(2*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := s.w.QueryRowContext(ctx, `SELECT max(id) FROM event_chunks`).Scan(&id); err != nil || id == 1 {
		t.Errorf("the new chunk's id is %d (%v): the deleted chunk's id was reused", id, err)
	}
	got, err := s.GetEvents(ctx, []string{"old-50", "new"})
	if err != nil || len(got) != 1 || got[0].ID != "new" {
		t.Errorf("GetEvents(old-50, new) = %v, %v; want only new", got, err)
	}
}
