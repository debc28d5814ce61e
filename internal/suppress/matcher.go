package suppress

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rampart-ids/rampart/internal/signal"
)

// Matcher is an immutable index of suppressions. Match does no I/O and
// looks only at the suppressions that name the signal's rule or detector
// (plus the entity-only ones), so the per-signal cost does not grow with
// suppressions of other rules. Safe for concurrent use.
type Matcher struct {
	byRule     map[string][]*compiled // suppressions naming a rule id
	byDetector map[string][]*compiled // naming a detector but no rule
	entityOnly []*compiled            // naming entities only
	n          int
}

type compiled struct {
	s    *Suppression
	ents []entMatch
}

type entMatch struct {
	kind, value string
	prefix      netip.Prefix // kind ip
}

func (m *entMatch) matchAny(es []signal.Entity) bool {
	for _, e := range es {
		if e.Kind != m.kind {
			continue
		}
		switch m.kind {
		case "user", "host":
			if strings.EqualFold(strings.TrimSpace(e.Value), m.value) {
				return true
			}
		case "ip":
			if a, err := netip.ParseAddr(strings.TrimSpace(e.Value)); err == nil && m.prefix.Contains(a.Unmap()) {
				return true
			}
		default:
			if e.Value == m.value {
				return true
			}
		}
	}
	return false
}

// NewMatcher indexes ss (expired ones too: Match checks expiry, so a
// matcher built a minute ago stops applying a suppression on time). When
// several match a signal, the oldest wins (then the smallest id).
func NewMatcher(ss []Suppression) *Matcher {
	m := &Matcher{byRule: map[string][]*compiled{}, byDetector: map[string][]*compiled{}}
	ss = slices.Clone(ss)
	slices.SortFunc(ss, func(a, b Suppression) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for i := range ss {
		s := &ss[i]
		c := &compiled{s: s}
		for _, e := range s.Entities {
			e = canonical(e)
			em := entMatch{kind: e.Kind, value: e.Value}
			if e.Kind == "ip" {
				p, err := parsePrefix(e.Value)
				if err != nil {
					continue // Validate refuses these; a stored one would match nothing
				}
				em.prefix = p
			}
			c.ents = append(c.ents, em)
		}
		switch {
		case s.RuleID != "":
			m.byRule[s.RuleID] = append(m.byRule[s.RuleID], c)
		case s.Detector != "":
			m.byDetector[s.Detector] = append(m.byDetector[s.Detector], c)
		case len(c.ents) > 0:
			m.entityOnly = append(m.entityOnly, c)
		default:
			continue // no scope: never "everything"
		}
		m.n++
	}
	return m
}

// Len is the number of suppressions indexed.
func (m *Matcher) Len() int {
	if m == nil {
		return 0
	}
	return m.n
}

// Match returns the suppression that hides sig at wall-clock time now, or nil.
// The returned value is shared: do not modify it.
func (m *Matcher) Match(sig *signal.Signal, now time.Time) *Suppression {
	if m == nil || m.n == 0 {
		return nil
	}
	var best *Suppression
	try := func(cs []*compiled) {
		for _, c := range cs {
			if best != nil && !older(c.s, best) {
				return // sorted oldest first: nothing later in cs beats best
			}
			if !c.s.Active(now) || (c.s.Detector != "" && c.s.Detector != sig.Detector) || !c.matchEntities(sig) {
				continue
			}
			best = c.s
			return
		}
	}
	if sig.RuleID != "" {
		try(m.byRule[sig.RuleID])
	}
	try(m.byDetector[sig.Detector])
	try(m.entityOnly)
	return best
}

func older(a, b *Suppression) bool {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c < 0
	}
	return a.ID < b.ID
}

// Hit is the hits one suppression took since the last flush.
type Hit struct {
	ID          string
	Count       int64
	Last        time.Time // wall clock
	LastEventID string
}

// Hits accumulates hits in memory between flushes to the store, so
// counting costs no I/O per signal. Safe for concurrent use.
type Hits struct {
	mu      sync.Mutex
	pending map[string]*Hit
}

// Add counts one signal hidden by suppression id at now.
func (h *Hits) Add(id string, now time.Time, eventIDs []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pending == nil {
		h.pending = map[string]*Hit{}
	}
	p := h.pending[id]
	if p == nil {
		p = &Hit{ID: id}
		h.pending[id] = p
	}
	p.Count++
	if !now.Before(p.Last) {
		p.Last = now
		if n := len(eventIDs); n > 0 {
			p.LastEventID = eventIDs[n-1]
		}
	}
}

// Take returns the pending hits (sorted by id) and forgets them.
func (h *Hits) Take() []Hit {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Hit, 0, len(h.pending))
	for _, p := range h.pending {
		out = append(out, *p)
	}
	h.pending = nil
	slices.SortFunc(out, func(a, b Hit) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Restore puts hits a failed flush took back, so they are written next time.
func (h *Hits) Restore(hs []Hit) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pending == nil {
		h.pending = map[string]*Hit{}
	}
	for _, x := range hs {
		p := h.pending[x.ID]
		if p == nil {
			c := x
			h.pending[x.ID] = &c
			continue
		}
		p.Count += x.Count
		if x.Last.After(p.Last) {
			p.Last, p.LastEventID = x.Last, x.LastEventID
		}
	}
}

// HasEntityOnly reports whether m holds suppressions scoped by entities alone.
func (m *Matcher) HasEntityOnly() bool { return m != nil && len(m.entityOnly) > 0 }
