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

// TestHashValues pins Hash to the values snapshots were written with, and
// checks that Hasher, part by part or piece by piece, gives the same.
func TestHashValues(t *testing.T) {
	for _, tc := range []struct {
		parts  []string
		pieces [][]string // each part split into pieces for Append
		want   uint64
	}{
		{nil, nil, 0xf52a15e9a9b5e89b},
		{[]string{""}, [][]string{{""}}, 0xf52a15e9a9b5e89b},
		{[]string{"", ""}, [][]string{{""}, {"", ""}}, 0x4f2db50f124040cd},
		{[]string{"a", "bc"}, [][]string{{"a"}, {"b", "c"}}, 0x54cb1647adbe0435},
		{[]string{"ab", "c"}, [][]string{{"a", "b"}, {"c"}}, 0xa52c632fce1f7d1},
		{[]string{"host", "cmd.exe"}, [][]string{{"host"}, {"cmd", ".exe"}}, 0x5316af90a637f871},
		{[]string{"process_pair", "ws1", "c:\\a.exe\x00c:\\b.exe"},
			[][]string{{"process_pair"}, {"ws1"}, {"c:\\a.exe", "\x00", "c:\\b.exe"}}, 0xf91667247241d9a7},
	} {
		if got := Hash(tc.parts...); got != tc.want {
			t.Errorf("Hash(%q) = %#x, want %#x", tc.parts, got, tc.want)
		}
		h := NewHasher()
		for _, part := range tc.pieces {
			h = h.Part(part[0])
			for _, p := range part[1:] {
				h = h.Append(p)
			}
		}
		if got := h.Sum(); got != tc.want {
			t.Errorf("Hasher over %q = %#x, want %#x", tc.pieces, got, tc.want)
		}
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

// TestDistinctEstimateTable: the tabled estimate is linear counting's
// formula at every fill, 0 through saturated.
func TestDistinctEstimateTable(t *testing.T) {
	for k := 0; k <= 128; k++ {
		var d Distinct
		for b := 0; b < k; b++ {
			d.Add(uint64(b))
		}
		want := 0.0
		if k > 0 {
			want = math.Round(-128 * math.Log(float64(max(128-k, 1))/128))
		}
		if got := d.Estimate(); got != want {
			t.Fatalf("%d bits set: estimate %v, want %v", k, got, want)
		}
	}
}
