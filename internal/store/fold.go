package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/signal"
)

// The helpers below implement the RecordSignals semantics once, so every
// store folds signals the same way.

// CheckSignals validates RecordSignals arguments.
func CheckSignals(sigs []signal.Signal, alertIDs []string) error {
	if len(sigs) != len(alertIDs) {
		return fmt.Errorf("%w: %d signals but %d alert ids", ErrInvalid, len(sigs), len(alertIDs))
	}
	for i := range sigs {
		if sigs[i].ID == "" {
			return fmt.Errorf("%w: signal %d has no id", ErrInvalid, i)
		}
		if alertIDs[i] == "" {
			return fmt.Errorf("%w: signal %d has no alert id", ErrInvalid, i)
		}
	}
	return nil
}

// CleanSignal returns a copy of sig as a store keeps it, so the alert
// RecordSignals returns equals the one GetAlert reads back: text made valid
// UTF-8 (invalid sequences become U+FFFD; stores keep alert lists as JSON)
// and Details as JSON reads them back (numbers become float64). Details that
// cannot be encoded (NaN, a channel) are replaced by {"details_error": why}
// rather than failing the whole batch.
func CleanSignal(sig signal.Signal) signal.Signal {
	sig.ID, sig.Detector, sig.RuleID, sig.RuleVersion = validText(sig.ID), validText(sig.Detector), validText(sig.RuleID), validText(sig.RuleVersion)
	sig.Title, sig.Explanation = validText(sig.Title), validText(sig.Explanation)
	sig.Layer, sig.Level = signal.Layer(validText(string(sig.Layer))), signal.Level(validText(string(sig.Level)))
	sig.Tags, sig.Techniques, sig.EventIDs = validTexts(sig.Tags), validTexts(sig.Techniques), validTexts(sig.EventIDs)
	if sig.Entities != nil {
		es := make([]signal.Entity, len(sig.Entities))
		for i, e := range sig.Entities {
			es[i] = signal.Entity{Kind: validText(e.Kind), Value: validText(e.Value)}
		}
		sig.Entities = es
	}
	if sig.Details != nil {
		var d map[string]any
		b, err := json.Marshal(sig.Details)
		if err == nil {
			err = json.Unmarshal(b, &d)
		}
		if err != nil {
			d = map[string]any{"details_error": err.Error()}
		}
		sig.Details = d
	}
	return sig
}

func validText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func validTexts(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = validText(s)
	}
	return out
}

// NewAlert starts the alert id from its first signal: alert.FromSignal, with
// the given id, evidence ids deduplicated and times truncated to the
// microsecond in UTC (what the stores keep).
func NewAlert(id string, s *signal.Signal, created time.Time) alert.Alert {
	a := alert.FromSignal(s, 0)
	a.ID = id
	a.EventIDs = nil
	a.EventIDs, _ = appendEvidence(nil, s.EventIDs)
	a.FirstSeen = StoredTime(a.FirstSeen)
	a.LastSeen = a.FirstSeen
	a.Created = StoredTime(created)
	return a
}

// Fold applies a signal not folded in before to a: Count+1, FirstSeen and
// LastSeen widen, new evidence ids are appended up to alert.MaxEvidence. It
// returns the evidence ids it appended.
func Fold(a *alert.Alert, s *signal.Signal) []string {
	a.Count++
	t := StoredTime(s.Time)
	if t.Before(a.FirstSeen) {
		a.FirstSeen = t
	}
	if t.After(a.LastSeen) {
		a.LastSeen = t
	}
	var added []string
	a.EventIDs, added = appendEvidence(a.EventIDs, s.EventIDs)
	return added
}

func appendEvidence(have, more []string) (all, added []string) {
	start := len(have)
	for _, id := range more {
		if len(have) >= alert.MaxEvidence {
			break
		}
		if !slices.Contains(have, id) {
			have = append(have, id)
		}
	}
	return have, have[start:]
}

// StoredTime is t as the stores keep it: truncated to the microsecond, in UTC.
func StoredTime(t time.Time) time.Time {
	return t.Truncate(time.Microsecond).UTC()
}

// SignalGroup is the inputs of one RecordSignals batch that fold into one
// alert, in input order.
type SignalGroup struct {
	AlertID string
	Inputs  []int
}

// GroupSignals groups a batch by alert id, groups sorted by id: a store that
// locks alerts in this order cannot deadlock with another batch.
func GroupSignals(alertIDs []string) []SignalGroup {
	idx := map[string]int{}
	var groups []SignalGroup
	for i, id := range alertIDs {
		g, ok := idx[id]
		if !ok {
			g = len(groups)
			idx[id] = g
			groups = append(groups, SignalGroup{AlertID: id})
		}
		groups[g].Inputs = append(groups[g].Inputs, i)
	}
	slices.SortFunc(groups, func(a, b SignalGroup) int { return strings.Compare(a.AlertID, b.AlertID) })
	return groups
}

// SignalIDs returns the distinct signal ids of the group's inputs.
func (g SignalGroup) SignalIDs(sigs []signal.Signal) []string {
	ids := make([]string, 0, len(g.Inputs))
	for _, i := range g.Inputs {
		if !slices.Contains(ids, sigs[i].ID) {
			ids = append(ids, sigs[i].ID)
		}
	}
	return ids
}

// ApplyGroup folds the group's inputs into a in order and fills out and
// created for them. creator is the input that created a in this batch (-1 if
// a existed); fresh holds the group's signal ids that were not folded in
// before (what inserting them into the alert's signal set reported as new).
// It returns the evidence ids appended and whether a changed after creation.
func ApplyGroup(a *alert.Alert, creator int, sigs []signal.Signal, g SignalGroup, fresh map[string]bool, out []alert.Alert, created []bool) (added []string, changed bool) {
	if creator >= 0 {
		delete(fresh, sigs[creator].ID)
	}
	for _, i := range g.Inputs {
		if i == creator {
			out[i], created[i] = cloneAlert(a), true
			continue
		}
		if fresh[sigs[i].ID] {
			delete(fresh, sigs[i].ID)
			added = append(added, Fold(a, &sigs[i])...)
			changed = true
		}
		out[i] = cloneAlert(a)
	}
	return added, changed
}

// cloneAlert copies the slice a later fold appends to, so earlier results stay as they were.
func cloneAlert(a *alert.Alert) alert.Alert {
	c := *a
	c.EventIDs = slices.Clone(a.EventIDs)
	return c
}
