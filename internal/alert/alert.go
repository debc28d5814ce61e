// Package alert defines Alert (a signal that passed suppression and
// throttling, shown to people) and Verdict (an analyst's judgement on it).
// It is a leaf package (standard library plus the leaf signal package).
package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-ids/rampart/internal/signal"
)

// Alert folds every signal of one rule about one entity within one throttle
// window. Its ID is deterministic (see DeriveID), so a replay or a re-read
// line never creates a second alert; Count is the number of distinct signals
// folded in, so re-delivered signals are not counted twice.
type Alert struct {
	ID          string
	Detector    string
	Layer       signal.Layer
	RuleID      string
	RuleVersion string
	Title       string
	Level       signal.Level
	Score       float64
	Tags        []string
	Techniques  []string
	Entities    []signal.Entity
	// EntityKey is the canonical entity string the alert is throttled on.
	EntityKey string
	// FirstSeen and LastSeen are event times of the first and last signal.
	FirstSeen time.Time
	LastSeen  time.Time
	Count     int64
	// EventIDs reference evidence events (capped at MaxEvidence; Count keeps the total).
	EventIDs    []string
	Explanation string
	Details     map[string]any
	Status      Status
	Verdict     *Verdict
	// Created is the wall-clock time the alert was first stored.
	Created time.Time
}

// MaxEvidence caps the evidence event ids kept on one alert.
const MaxEvidence = 100

// Status of an alert.
type Status string

// Statuses.
const (
	StatusOpen   Status = "open"
	StatusClosed Status = "closed"
)

// VerdictKind is an analyst's judgement.
type VerdictKind string

// Verdict kinds (DESIGN.md vocabulary).
const (
	TruePositive       VerdictKind = "true_positive"
	BenignTruePositive VerdictKind = "benign"
	FalsePositive      VerdictKind = "false_positive"
)

// Valid reports whether k is one of the known kinds.
func (k VerdictKind) Valid() bool {
	return k == TruePositive || k == BenignTruePositive || k == FalsePositive
}

// Verdict is an analyst's judgement on an alert.
type Verdict struct {
	AlertID string
	Kind    VerdictKind
	Reason  string
	Author  string
	Time    time.Time
}

// EntityKey renders entities canonically (sorted "kind=value" joined by ",").
func EntityKey(es []signal.Entity) string {
	parts := make([]string, 0, len(es))
	for _, e := range es {
		parts = append(parts, e.Kind+"="+e.Value)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// DeriveID is the alert id for a signal under a throttle window: the same
// detector, rule and entities within the same window (aligned to event time)
// always map to the same alert.
func DeriveID(s *signal.Signal, window time.Duration) string {
	var bucket int64
	if window > 0 {
		bucket = s.Time.UnixNano() / int64(window)
	}
	h := sha256.New()
	h.Write([]byte(s.Detector))
	h.Write([]byte{0})
	h.Write([]byte(s.RuleID))
	h.Write([]byte{0})
	h.Write([]byte(EntityKey(s.Entities)))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(bucket, 10)))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// FromSignal starts an alert from its first signal.
func FromSignal(s *signal.Signal, window time.Duration) Alert {
	ids := s.EventIDs
	if len(ids) > MaxEvidence {
		ids = ids[:MaxEvidence]
	}
	return Alert{
		ID: DeriveID(s, window), Detector: s.Detector, Layer: s.Layer, RuleID: s.RuleID,
		RuleVersion: s.RuleVersion, Title: s.Title, Level: s.Level, Score: s.Score,
		Tags: s.Tags, Techniques: s.Techniques, Entities: s.Entities, EntityKey: EntityKey(s.Entities),
		FirstSeen: s.Time, LastSeen: s.Time, Count: 1, EventIDs: append([]string(nil), ids...),
		Explanation: s.Explanation, Details: s.Details, Status: StatusOpen,
	}
}
