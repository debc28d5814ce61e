package sketch

import "fmt"

// Entry is one LRUSet slot: a key and three counters whose meaning the
// caller chooses (a count, a first-seen minute, a packed day/counter).
type Entry struct {
	Key     uint64
	A, B, C uint32
}

type slot struct {
	Entry
	prev, next int32
}

// LRUSet is a hash table of at most Cap entries keyed by uint64. Adding a
// new key when full evicts the least recently used one. Memory is bounded
// by Cap: about 32 bytes per slot plus the Go map's ~20 bytes per key.
// Not safe for concurrent use.
type LRUSet struct {
	idx        map[uint64]int32
	slots      []slot
	head, tail int32 // head = most recent; -1 when empty
	cap        int
	evicted    uint64
}

// NewLRUSet returns a set holding at most capacity entries (minimum 1).
func NewLRUSet(capacity int) *LRUSet {
	if capacity < 1 {
		capacity = 1
	}
	if capacity > 1<<30 {
		capacity = 1 << 30
	}
	return &LRUSet{idx: make(map[uint64]int32), head: -1, tail: -1, cap: capacity}
}

// Len is the number of entries.
func (s *LRUSet) Len() int { return len(s.idx) }

// Cap is the maximum number of entries.
func (s *LRUSet) Cap() int { return s.cap }

// Evicted counts entries dropped to make room.
func (s *LRUSet) Evicted() uint64 { return s.evicted }

// Peek returns the entry for key without changing its recency.
func (s *LRUSet) Peek(key uint64) (*Entry, bool) {
	i, ok := s.idx[key]
	if !ok {
		return nil, false
	}
	return &s.slots[i].Entry, true
}

// Get returns the entry for key, marking it most recently used. The pointer
// is valid until the next Put.
func (s *LRUSet) Get(key uint64) (*Entry, bool) {
	i, ok := s.idx[key]
	if !ok {
		return nil, false
	}
	s.moveFront(i)
	return &s.slots[i].Entry, true
}

// Put returns the entry for key, inserting a zeroed one (and evicting the
// least recently used entry when full) if absent. created reports an insert.
// The pointer is valid until the next Put.
func (s *LRUSet) Put(key uint64) (e *Entry, created bool) {
	if i, ok := s.idx[key]; ok {
		s.moveFront(i)
		return &s.slots[i].Entry, false
	}
	var i int32
	if len(s.slots) < s.cap {
		s.slots = append(s.slots, slot{})
		i = int32(len(s.slots) - 1)
	} else {
		i = s.tail
		s.unlink(i)
		delete(s.idx, s.slots[i].Key)
		s.evicted++
	}
	s.slots[i] = slot{Entry: Entry{Key: key}, prev: -1, next: -1}
	s.pushFront(i)
	s.idx[key] = i
	return &s.slots[i].Entry, true
}

// Entries returns the entries from least to most recently used; Load of
// that slice rebuilds the same recency order.
func (s *LRUSet) Entries() []Entry {
	out := make([]Entry, 0, len(s.idx))
	for i := s.tail; i >= 0; i = s.slots[i].prev {
		out = append(out, s.slots[i].Entry)
	}
	return out
}

// Load replaces the contents with es (least recently used first).
func (s *LRUSet) Load(es []Entry, evicted uint64) error {
	if len(es) > s.cap {
		return fmt.Errorf("sketch: %d entries exceed capacity %d", len(es), s.cap)
	}
	n := NewLRUSet(s.cap)
	for _, e := range es {
		p, created := n.Put(e.Key)
		if !created {
			return fmt.Errorf("sketch: duplicate key %#x", e.Key)
		}
		*p = e
	}
	n.evicted = evicted
	*s = *n
	return nil
}

func (s *LRUSet) unlink(i int32) {
	p, n := s.slots[i].prev, s.slots[i].next
	if p >= 0 {
		s.slots[p].next = n
	} else {
		s.head = n
	}
	if n >= 0 {
		s.slots[n].prev = p
	} else {
		s.tail = p
	}
	s.slots[i].prev, s.slots[i].next = -1, -1
}

func (s *LRUSet) pushFront(i int32) {
	s.slots[i].prev = -1
	s.slots[i].next = s.head
	if s.head >= 0 {
		s.slots[s.head].prev = i
	}
	s.head = i
	if s.tail < 0 {
		s.tail = i
	}
}

func (s *LRUSet) moveFront(i int32) {
	if s.head == i {
		return
	}
	s.unlink(i)
	s.pushFront(i)
}
