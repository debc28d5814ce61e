package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/store"
)

// A store may keep a write batch together (sqlite keeps one chunk per
// batch); these tests check the Store contracts across batches and across
// purges that cut through one.

// testDuplicatesAcrossBatches: an id stored in an earlier batch, or
// earlier in the same batch, is ignored; the first copy is the one read.
func testDuplicatesAcrossBatches(t *testing.T, s store.Store) {
	var first []*event.Event
	for b := range 3 {
		var evs []*event.Event
		for i := range 50 {
			evs = append(evs, mkEvent(fmt.Sprintf("b%d-%d", b, i), base.Add(time.Duration(b*50+i)*time.Second)))
		}
		mustAppend(t, s, evs...)
		first = append(first, evs...)
	}
	// A batch re-delivering ids of every earlier batch (changed, so a
	// second copy would show), repeating one of its own, and one new id.
	var again []*event.Event
	for _, ev := range []*event.Event{first[3], first[60], first[149], first[0]} {
		dup := mkEvent(ev.ID, base.Add(24*time.Hour))
		dup.Fields["message"], dup.Raw = "second delivery", []byte("other raw")
		again = append(again, dup)
	}
	fresh := mkEvent("fresh", base.Add(24*time.Hour))
	freshDup := mkEvent("fresh", base.Add(25*time.Hour))
	freshDup.Raw = []byte("later copy in the same batch")
	again = append(again, fresh, freshDup)
	mustAppend(t, s, again...)

	ids := []string{first[3].ID, first[60].ID, first[149].ID, first[0].ID, "fresh"}
	got := getEvents(t, s, ids...)
	want := []*event.Event{first[3], first[60], first[149], first[0], fresh}
	if diff := cmp.Diff(want, got, eventCmp); diff != "" {
		t.Errorf("events after re-delivery (-want +got):\n%s", diff)
	}
	if st, ok := s.(store.StatsStore); ok {
		stats, err := st.Stats(ctxFor(t))
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		if stats.Events != 151 {
			t.Errorf("Stats.Events = %d, want 151", stats.Events)
		}
	}
	n, err := s.PurgeEvents(ctxFor(t), base.Add(48*time.Hour))
	if err != nil || n != 151 {
		t.Errorf("PurgeEvents of all = %d, %v; want 151", n, err)
	}
}

// testGetAcrossBatches: GetEvents finds ids from many batches, one batch
// larger than any store's natural unit, in the order asked, skipping
// unknown ids and repeating repeated ones.
func testGetAcrossBatches(t *testing.T, s store.Store) {
	var all []*event.Event
	for b, size := range []int{1, 70, 9000, 3, 200} {
		evs := BenchEvents(fmt.Sprintf("batch%d-", b), size)
		mustAppend(t, s, evs...)
		all = append(all, evs...)
	}
	var ids []string
	var want []*event.Event
	for i := len(all) - 1; i >= 0; i -= 97 { // newest first, every batch
		ids = append(ids, all[i].ID)
		want = append(want, all[i])
		if i%5 == 0 {
			ids = append(ids, "no-such-id")
		}
	}
	ids = append(ids, all[0].ID, all[0].ID)
	want = append(want, all[0], all[0])
	got := getEvents(t, s, ids...)
	if diff := cmp.Diff(want, got, eventCmp); diff != "" {
		t.Errorf("GetEvents across batches (-want +got):\n%s", diff)
	}
	// Every id of the large batch, in one call.
	big := all[71 : 71+9000]
	bigIDs := make([]string, len(big))
	for i, ev := range big {
		bigIDs[i] = ev.ID
	}
	got = getEvents(t, s, bigIDs...)
	if len(got) != len(big) {
		t.Fatalf("GetEvents of a 9000-event batch returned %d", len(got))
	}
	for i := range got {
		if got[i].ID != big[i].ID || !slices.Equal(got[i].Raw, big[i].Raw) {
			t.Fatalf("event %d: got %s, want %s", i, got[i].ID, big[i].ID)
		}
	}
}

// testPurgeBoundaries: purges that cut through batches delete exactly the
// events received before the cut, keep the rest readable and deduplicated,
// and forget purged ids (which may then be stored again).
func testPurgeBoundaries(t *testing.T, s store.Store) {
	r := s.(store.Retention)
	// Three batches; received times interleave across them, so a cut at
	// base passes through every batch.
	var all []*event.Event
	for b := range 3 {
		var evs []*event.Event
		for i := range 40 {
			at := base.Add(time.Duration(i-20)*time.Minute + time.Duration(b)*time.Second)
			evs = append(evs, mkEvent(fmt.Sprintf("p%d-%d", b, i), at))
		}
		mustAppend(t, s, evs...)
		all = append(all, evs...)
	}
	before := func(cut time.Time) (n int64) {
		for _, ev := range all {
			if ev.Received.Before(cut) {
				n++
			}
		}
		return n
	}
	cutRaw := base.Add(-5 * time.Minute)
	wantRaw := before(cutRaw)
	if n, err := r.PurgeRaw(ctxFor(t), cutRaw); err != nil || n != wantRaw {
		t.Fatalf("PurgeRaw = %d, %v; want %d", n, err, wantRaw)
	}
	cut := base.Add(-10 * time.Minute)
	want := before(cut)
	if n, err := s.PurgeEvents(ctxFor(t), cut); err != nil || n != want {
		t.Fatalf("PurgeEvents = %d, %v; want %d", n, err, want)
	}
	if n, err := s.PurgeEvents(ctxFor(t), cut); err != nil || n != 0 {
		t.Errorf("second PurgeEvents = %d, %v; want 0", n, err)
	}
	for _, ev := range all {
		got := getEvents(t, s, ev.ID)
		if ev.Received.Before(cut) {
			if len(got) != 0 {
				t.Errorf("%s (received %v) survived the purge at %v", ev.ID, ev.Received, cut)
			}
			continue
		}
		if len(got) != 1 {
			t.Fatalf("%s (received %v) lost in the purge at %v", ev.ID, ev.Received, cut)
		}
		wantEv := *ev
		if ev.Received.Before(cutRaw) {
			wantEv.Raw = nil
		}
		if diff := cmp.Diff(&wantEv, got[0], eventCmp); diff != "" {
			t.Errorf("%s after purges (-want +got):\n%s", ev.ID, diff)
		}
	}
	// A kept id is still deduplicated; a purged id is new again.
	var kept, purged *event.Event
	for _, ev := range all {
		if ev.Received.Before(cut) {
			purged = ev
		} else if kept == nil {
			kept = ev
		}
	}
	keptDup := mkEvent(kept.ID, base.Add(time.Hour))
	keptDup.Raw = []byte("second copy")
	back := mkEvent(purged.ID, base.Add(time.Hour))
	mustAppend(t, s, keptDup, back)
	got := getEvents(t, s, kept.ID, purged.ID)
	if len(got) != 2 || got[0].Received.Equal(keptDup.Received) || !got[1].Received.Equal(back.Received) {
		t.Errorf("after re-delivery: %v; want the first %s and the new %s", got, kept.ID, purged.ID)
	}
	if st, ok := s.(store.StatsStore); ok {
		stats, err := st.Stats(ctxFor(t))
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		if wantN := int64(len(all)) - want + 1; stats.Events != wantN {
			t.Errorf("Stats.Events = %d, want %d", stats.Events, wantN)
		}
	}
	// The rest, up to a cut between two received times of one batch.
	if n, err := s.PurgeEvents(ctxFor(t), base.Add(time.Hour)); err != nil || n != int64(len(all))-want {
		t.Errorf("PurgeEvents of the rest = %d, %v; want %d", n, err, int64(len(all))-want)
	}
	if got := getEvents(t, s, back.ID); len(got) != 1 {
		t.Errorf("event received at the cut was purged")
	}
}
