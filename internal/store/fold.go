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
