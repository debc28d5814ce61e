package audit

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// Memory is an in-memory Store: the chain of a parsed export, or a log for
// tests and offline tools. It is safe for concurrent use.
type Memory struct {
	mu   sync.Mutex
	recs []Record
	cps  []Checkpoint
	now  func() time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store; now stamps records without a time.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now}
}

// Append seals recs after the head and keeps them.
func (m *Memory) Append(_ context.Context, recs []Record) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out, err := Seal(m.headLocked(), recs, m.now())
	if err != nil {
		return nil, err
	}
	m.recs = append(m.recs, out...)
	return out, nil
}

func (m *Memory) headLocked() Head {
	if len(m.recs) == 0 {
		return Head{Hash: ZeroHash}
	}
	r := m.recs[len(m.recs)-1]
	return Head{Seq: r.Seq, Hash: r.Hash}
}

// Head returns the newest record's seq and hash.
func (m *Memory) Head(context.Context) (Head, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.headLocked(), nil
}

// Range calls fn for the records with from <= Seq <= to (to <= 0: all), in
// stored order (which, for an imported export, need not be ascending).
func (m *Memory) Range(ctx context.Context, from, to int64, fn func(Record) error) error {
	m.mu.Lock()
	recs := slices.Clone(m.recs)
	m.mu.Unlock()
	for _, r := range recs {
		if r.Seq < from || (to > 0 && r.Seq > to) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// AddCheckpoint keeps c; the same (seq, key) again is a no-op.
func (m *Memory) AddCheckpoint(_ context.Context, c Checkpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.cps {
		if o.Seq == c.Seq && o.KeyID == c.KeyID {
			return nil
		}
	}
	m.cps = append(m.cps, c)
	sort.SliceStable(m.cps, func(i, j int) bool { return m.cps[i].Seq < m.cps[j].Seq })
	return nil
}

// Checkpoints returns the checkpoints ascending by Seq.
func (m *Memory) Checkpoints(context.Context) ([]Checkpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.cps), nil
}

// DeleteBefore drops records and checkpoints before the newest checkpoint
// at or below seq.
func (m *Memory) DeleteBefore(_ context.Context, seq int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cut := int64(0)
	for _, c := range m.cps {
		if c.Seq <= seq && c.Seq > cut {
			cut = c.Seq
		}
	}
	if cut == 0 {
		return 0, nil
	}
	n := int64(0)
	m.recs = slices.DeleteFunc(m.recs, func(r Record) bool {
		if r.Seq < cut {
			n++
			return true
		}
		return false
	})
	m.cps = slices.DeleteFunc(m.cps, func(c Checkpoint) bool { return c.Seq < cut })
	return n, nil
}

// SetRecords replaces the stored records as they are, without sealing: for
// loading an export and for tests that tamper with a chain.
func (m *Memory) SetRecords(recs []Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = slices.Clone(recs)
}

// SetCheckpoints replaces the stored checkpoints as they are.
func (m *Memory) SetCheckpoints(cps []Checkpoint) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cps = slices.Clone(cps)
}

// String describes the store for logs.
func (m *Memory) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprintf("audit.Memory(%d records, %d checkpoints)", len(m.recs), len(m.cps))
}
