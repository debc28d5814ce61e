package correlation

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/rampart-ids/rampart/internal/snapshot"
)

// snapshotVersion changes when the snapshot layout does.
const snapshotVersion = 1

// maxSnapshotBytes bounds what Restore reads.
const maxSnapshotBytes = 256 << 20

type engineState struct {
	Now   time.Time
	Rules []ruleState
}

type ruleState struct {
	ID, Version string
	RefTitle    []string
	Groups      []groupState // in deadline order, earliest first
}

type groupState struct {
	Key         string
	Vals        []string
	Start, Last time.Time
	Count       int
	Entries     []entryState
	Distinct    map[string]int
	Sum         float64
	SeenAt      []time.Time
	SeenIDs     [][]string
	ChainStart  []time.Time
	ChainIDs    [][]string
}

type entryState struct {
	T   time.Time
	IDs []string
	Val string
	Num float64
}

// Snapshot writes the open windows of every rule (in the shared hashed
// framing, internal/snapshot) so a restart resumes them. Like Observe, it
// is called from the engine's goroutine. A nil engine (no correlation
// rules) writes an empty state.
func (e *Engine) Snapshot(w io.Writer) error {
	if e == nil {
		return snapshot.Write(w, "correlation", snapshotVersion, &engineState{})
	}
	st := engineState{Now: e.now}
	for _, cr := range e.rules {
		rs := ruleState{ID: cr.id, Version: cr.version, RefTitle: cr.refTitle}
		for el := cr.order.Front(); el != nil; el = el.Next() {
			g := el.Value.(*group)
			gs := groupState{
				Key: g.key, Vals: g.vals, Start: g.start, Last: g.last, Count: g.count, Distinct: g.distinct,
				Sum: g.sum, SeenAt: g.seenAt, SeenIDs: g.seenIDs, ChainStart: g.chainStart, ChainIDs: g.chainIDs,
			}
			for _, x := range g.entries {
				gs.Entries = append(gs.Entries, entryState{T: x.t, IDs: x.ids, Val: x.val, Num: x.num})
			}
			rs.Groups = append(rs.Groups, gs)
		}
		st.Rules = append(st.Rules, rs)
	}
	return snapshot.Write(w, "correlation", snapshotVersion, &st)
}

// Restore replaces the open windows with a snapshot's. A snapshot that does
// not verify is refused and the state is unchanged; windows of rules removed
// or changed since are dropped, and at most Limits.MaxGroups per rule kept.
// A nil engine checks the snapshot and keeps nothing.
func (e *Engine) Restore(r io.Reader) error {
	var st engineState
	if err := snapshot.Read(r, "correlation", snapshotVersion, maxSnapshotBytes, &st); err != nil {
		return fmt.Errorf("correlation restore: %w", err)
	}
	if e == nil {
		return nil // no correlation rules now: nothing to resume
	}
	byID := map[string]*crule{}
	for _, cr := range e.rules {
		byID[cr.id] = cr
	}
	type restored struct {
		cr     *crule
		groups []*group
		titles []string
	}
	var rs []restored
	for _, s := range st.Rules {
		cr, ok := byID[s.ID]
		if !ok || cr.version != s.Version {
			continue
		}
		if len(s.RefTitle) != len(cr.refs) {
			return fmt.Errorf("correlation restore: rule %s: %d reference titles for %d references", s.ID, len(s.RefTitle), len(cr.refs))
		}
		x := restored{cr: cr, titles: s.RefTitle}
		for i := range s.Groups {
			g, err := s.Groups[i].group(cr, e.lim)
			if err != nil {
				return fmt.Errorf("correlation restore: rule %s, window %d: %w", s.ID, i, err)
			}
			x.groups = append(x.groups, g)
		}
		if len(x.groups) > e.lim.MaxGroups {
			x.groups = x.groups[len(x.groups)-e.lim.MaxGroups:]
		}
		rs = append(rs, x)
	}
	for _, cr := range e.rules {
		cr.groups, cr.order = map[string]*group{}, cr.order.Init()
	}
	for _, x := range rs {
		copy(x.cr.refTitle, x.titles)
		for _, g := range x.groups {
			if old, dup := x.cr.groups[g.key]; dup {
				x.cr.order.Remove(old.elem)
			}
			g.elem = x.cr.order.PushBack(g)
			x.cr.groups[g.key] = g
		}
	}
	e.now = st.Now
	return nil
}

// group rebuilds a window, refusing one no observation could have left.
func (s *groupState) group(cr *crule, lim Limits) (*group, error) {
	n := len(cr.refs)
	switch {
	case len(s.Vals) != len(cr.groupBy) || s.Key != strings.Join(s.Vals, "\x00"):
		return nil, fmt.Errorf("group key does not match its %d values for %d group-by fields", len(s.Vals), len(cr.groupBy))
	case s.Count < 0 || len(s.Entries) > lim.MaxEvents:
		return nil, fmt.Errorf("%d entries, count %d", len(s.Entries), s.Count)
	case math.IsNaN(s.Sum) || math.IsInf(s.Sum, 0):
		return nil, fmt.Errorf("sum %v", s.Sum)
	case s.SeenAt != nil && (len(s.SeenAt) != n || len(s.SeenIDs) != n):
		return nil, fmt.Errorf("temporal state for %d of %d references", len(s.SeenAt), n)
	case s.ChainStart != nil && (len(s.ChainStart) != n || len(s.ChainIDs) != n):
		return nil, fmt.Errorf("ordered state for %d of %d references", len(s.ChainStart), n)
	}
	g := &group{
		key: s.Key, vals: s.Vals, start: s.Start, last: s.Last, count: s.Count, distinct: s.Distinct, sum: s.Sum,
		seenAt: s.SeenAt, seenIDs: s.SeenIDs, chainStart: s.ChainStart, chainIDs: s.ChainIDs,
	}
	for _, x := range s.Entries {
		g.entries = append(g.entries, entry{t: x.T, ids: x.IDs, val: x.Val, num: x.Num})
	}
	return g, nil
}
