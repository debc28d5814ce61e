package file

import (
	"sync"

	"github.com/rampart-ids/rampart/internal/store"
)

// committer tracks records of one source in the order they were read and
// advances the committed offset only over a contiguous run of committed
// records, so a record committed early never lets an offset skip an
// uncommitted one.
type committer struct {
	mu      sync.Mutex
	pending []pend // in read order; pending[head] has sequence base
	head    int
	base    uint64
	next    uint64
	cur     store.Offset
	has     bool
	last    store.Offset // last saved
	hasLast bool
}

type pend struct {
	id   string
	end  int64
	done bool
}

// add registers a record ending at end in file id and returns its Commit func.
func (c *committer) add(id string, end int64) func() {
	c.mu.Lock()
	seq := c.next
	c.next++
	c.pending = append(c.pending, pend{id: id, end: end})
	c.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { c.commit(seq) }) }
}

func (c *committer) commit(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	live := c.pending[c.head:]
	if seq < c.base || seq-c.base >= uint64(len(live)) {
		return
	}
	live[seq-c.base].done = true
	n := 0
	for n < len(live) && live[n].done {
		n++
	}
	if n == 0 {
		return
	}
	p := live[n-1]
	c.cur, c.has = store.Offset{FileID: p.id, Offset: p.end}, true
	c.head += n
	c.base += uint64(n)
	// Compact once the consumed prefix dominates, keeping commit amortized O(1).
	if c.head > 64 && c.head*2 > len(c.pending) {
		c.pending = append(c.pending[:0], c.pending[c.head:]...)
		c.head = 0
	}
}

// current returns the committed offset, if any.
func (c *committer) current() (store.Offset, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur, c.has
}

// dirty returns the committed offset if it was not saved yet.
func (c *committer) dirty() (store.Offset, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.has || (c.hasLast && c.last == c.cur) {
		return store.Offset{}, false
	}
	return c.cur, true
}

func (c *committer) saved(o store.Offset) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last, c.hasLast = o, true
}
