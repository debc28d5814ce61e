package store

import (
	"fmt"
	"slices"
	"time"

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
