package sketch

import (
	"fmt"
	"math"
	"testing"
)

func TestHashStable(t *testing.T) {
	// Snapshots depend on these values never changing.
	if Hash("a", "bc") == Hash("ab", "c") {
		t.Fatal("separator ignored")
	}
	if got, again := Hash("host", "cmd.exe"), Hash("host", "cmd.exe"); got != again {
		t.Fatal("not deterministic")
	}
}

func TestDistinctAccuracy(t *testing.T) {
	for _, tc := range []struct {
		n      int
		maxErr float64 // relative
	}{{0, 0}, {1, 0}, {5, 0.25}, {20, 0.2}, {50, 0.15}, {100, 0.15}, {300, 0.25}} {
		var d Distinct
		for i := 0; i < tc.n; i++ {
			d.Add(Hash(fmt.Sprint("v", i)))
			d.Add(Hash(fmt.Sprint("v", i))) // duplicates do not count
		}
		got := d.Estimate()
		if tc.n == 0 {
			if got != 0 {
				t.Fatalf("empty estimate %v", got)
			}
			continue
		}
		if rel := math.Abs(got-float64(tc.n)) / float64(tc.n); rel > tc.maxErr {
			t.Errorf("n=%d: estimate %v (rel err %.2f > %.2f)", tc.n, got, rel, tc.maxErr)
		}
	}
}

func TestLRUSetEvictsLeastRecent(t *testing.T) {
	s := NewLRUSet(3)
	for k := uint64(1); k <= 3; k++ {
		e, created := s.Put(k)
		if !created {
			t.Fatal("expected insert")
		}
		e.A = uint32(k)
	}
	s.Get(1) // 2 is now least recent
	s.Put(4)
	if _, ok := s.Peek(2); ok {
		t.Fatal("2 should be evicted")
	}
	for _, k := range []uint64{1, 3, 4} {
		if _, ok := s.Peek(k); !ok {
			t.Fatalf("%d missing", k)
		}
	}
	if s.Len() != 3 || s.Evicted() != 1 {
		t.Fatalf("len %d evicted %d", s.Len(), s.Evicted())
	}
	es := s.Entries()
	want := []uint64{3, 1, 4}
	for i, e := range es {
		if e.Key != want[i] {
			t.Fatalf("order %v, want %v", es, want)
		}
	}
	r := NewLRUSet(3)
	if err := r.Load(es, s.Evicted()); err != nil {
		t.Fatal(err)
	}
	r.Put(5) // must evict 3, as s would
	s.Put(5)
	if _, ok := r.Peek(3); ok {
		t.Fatal("restored order differs")
	}
	if err := NewLRUSet(1).Load(es, 0); err == nil {
		t.Fatal("load over capacity accepted")
	}
}

func TestLRUSetBoundedMemory(t *testing.T) {
	s := NewLRUSet(1000)
	for k := uint64(0); k < 100000; k++ {
		s.Put(k)
	}
	if s.Len() != 1000 || len(s.slots) != 1000 || s.Evicted() != 99000 {
		t.Fatalf("len %d slots %d evicted %d", s.Len(), len(s.slots), s.Evicted())
	}
}
