package threshold

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/rampart-ids/rampart/internal/snapshot"
)

// snapshotVersion changes when the snapshot layout does.
const snapshotVersion = 1

// maxSnapshotBytes bounds what Restore reads (100,000 buckets with full
// evidence rings are about 100 MB).
const maxSnapshotBytes = 256 << 20

type state struct {
	Buckets []bucketState // least recently touched first
}

type bucketState struct {
	RuleID, RuleVersion string
	Vals                []string
	Level               float64
	Updated, First      time.Time
	Last, CoolTill      time.Time
	Poured, Events      int
	HeadIDs, TailIDs    []string
	TailPos             int
	Distinct            []string
}

// Snapshot writes the live buckets (levels, evidence, distinct values,
// cooldowns) in the hashed snapshot framing the stateful detectors share
// (internal/snapshot), so a restart does not forget a burst half
// counted. Buckets carry their rule's id and version: Restore keeps only
// those whose rule is unchanged.
func (d *Detector) Snapshot(w io.Writer) error {
	d.mu.Lock()
	st := state{Buckets: make([]bucketState, 0, len(d.buckets))}
	for el := d.lru.Front(); el != nil; el = el.Next() {
		b := el.Value.(*bucket)
		bs := bucketState{
			RuleID: b.rule.ID, RuleVersion: b.rule.Version, Vals: b.vals, Level: b.level,
			Updated: b.updated, First: b.first, Last: b.last, CoolTill: b.coolTill,
			Poured: b.poured, Events: b.events, HeadIDs: b.headIDs, TailPos: b.tailPos,
			// The tail ring is overwritten in place by later pours: copied.
			// The rest is replaced, never changed in place, so encoding it
			// after the lock is released is safe.
			TailIDs: slices.Clone(b.tailIDs),
		}
		if len(b.distinct) > 0 {
			bs.Distinct = make([]string, 0, len(b.distinct))
			for v := range b.distinct {
				bs.Distinct = append(bs.Distinct, v)
			}
			slices.Sort(bs.Distinct)
		}
		st.Buckets = append(st.Buckets, bs)
	}
	d.mu.Unlock()
	return snapshot.Write(w, Kind, snapshotVersion, &st)
}

// Restore replaces the buckets with a snapshot's. A snapshot that does not
// verify (framing, hash, version, bucket fields) is refused and the state is
// unchanged; buckets of rules removed or changed since are dropped, and at
// most MaxBuckets (the most recently touched) are kept.
func (d *Detector) Restore(r io.Reader) error {
	var st state
	if err := snapshot.Read(r, Kind, snapshotVersion, maxSnapshotBytes, &st); err != nil {
		return fmt.Errorf("threshold restore: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	rules := make(map[string]*Rule, len(d.rules))
	for _, r := range d.rules {
		rules[r.ID] = r
	}
	var bs []*bucket
	for i := range st.Buckets {
		s := &st.Buckets[i]
		r, ok := rules[s.RuleID]
		if !ok || r.Version != s.RuleVersion {
			continue
		}
		if err := s.check(r); err != nil {
			return fmt.Errorf("threshold restore: bucket %d (%s): %w", i, s.RuleID, err)
		}
		if len(s.HeadIDs) > d.opts.MaxEvidence/2 || len(s.TailIDs) > d.opts.MaxEvidence-d.opts.MaxEvidence/2 ||
			len(s.Distinct) > d.opts.MaxDistinct {
			continue // kept under larger limits than this run's
		}
		b := &bucket{
			rule: r, vals: s.Vals, level: s.Level, updated: s.Updated, first: s.First, last: s.Last,
			coolTill: s.CoolTill, poured: s.Poured, events: s.Events, headIDs: s.HeadIDs, tailIDs: s.TailIDs, tailPos: s.TailPos,
		}
		b.key = string(appendBucketKey(nil, r.ID, s.Vals))
		if len(s.Distinct) > 0 {
			b.distinct = make(map[string]struct{}, len(s.Distinct))
			for _, v := range s.Distinct {
				b.distinct[v] = struct{}{}
			}
		}
		bs = append(bs, b)
	}
	if len(bs) > d.opts.MaxBuckets {
		bs = bs[len(bs)-d.opts.MaxBuckets:]
	}
	d.buckets = make(map[string]*bucket, len(bs))
	d.lru.Init()
	for _, b := range bs {
		if old, dup := d.buckets[b.key]; dup {
			d.lru.Remove(old.elem)
		}
		b.elem = d.lru.PushBack(b)
		d.buckets[b.key] = b
	}
	d.nBucket.Store(int64(len(d.buckets)))
	return nil
}

// check refuses a bucket no pour could have left behind.
func (s *bucketState) check(r *Rule) error {
	switch {
	case len(s.Vals) != len(r.GroupBy):
		return fmt.Errorf("%d group values for %d group_by fields", len(s.Vals), len(r.GroupBy))
	case math.IsNaN(s.Level) || math.IsInf(s.Level, 0) || s.Level < 0 || s.Level > float64(r.Capacity)+1:
		return fmt.Errorf("level %v outside 0..capacity", s.Level)
	case s.Poured < 0 || s.Events < s.Poured:
		return fmt.Errorf("counts %d poured, %d events", s.Poured, s.Events)
	case s.TailPos < 0 || (s.TailPos > 0 && s.TailPos >= len(s.TailIDs)):
		return fmt.Errorf("evidence ring position %d of %d", s.TailPos, len(s.TailIDs))
	case r.Distinct == "" && len(s.Distinct) > 0:
		return fmt.Errorf("%d distinct values for a rule without distinct", len(s.Distinct))
	}
	return nil
}

// appendBucketKey appends the buckets map key of a rule id and group
// values: the id, then each value after a NUL (a lone NUL without values).
func appendBucketKey(kb []byte, ruleID string, vals []string) []byte {
	kb = append(kb, ruleID...)
	if len(vals) == 0 {
		kb = append(kb, 0)
	}
	for _, v := range vals {
		kb = append(append(kb, 0), v...)
	}
	return kb
}
