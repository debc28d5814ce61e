// Package signal defines Signal, one detector's finding about one or more
// events. It is a leaf package (standard library only).
package signal

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Layer names the detection layer a signal came from.
type Layer string

// Layers, in the order DESIGN.md lists them.
const (
	LayerRules    Layer = "rules"    // Sigma, IOC
	LayerStateful Layer = "stateful" // thresholds, correlation, sequences
	LayerML       Layer = "ml"       // baselines, anomaly models
	LayerHealth   Layer = "health"   // Rampart's own health (silent inputs)
)

// Level is a Sigma-style severity.
type Level string

// Levels from lowest to highest.
const (
	LevelInformational Level = "informational"
	LevelLow           Level = "low"
	LevelMedium        Level = "medium"
	LevelHigh          Level = "high"
	LevelCritical      Level = "critical"
)

// Rank orders levels: informational 0 … critical 4; unknown -1.
func (l Level) Rank() int {
	switch l {
	case LevelInformational:
		return 0
	case LevelLow:
		return 1
	case LevelMedium:
		return 2
	case LevelHigh:
		return 3
	case LevelCritical:
		return 4
	}
	return -1
}

// Entity is one thing a signal is about.
type Entity struct {
	Kind  string // "user", "host", "ip", "process", "file", "domain", "url", "hash"
	Value string
}

// Signal is one detector's finding.
type Signal struct {
	// ID is deterministic: derived from detector, rule and the evidence events.
	ID string
	// Detector is the detector kind ("sigma", "ioc", "threshold", "correlation", …).
	Detector string
	Layer    Layer
	// RuleID identifies the rule, indicator list or model inside the detector.
	RuleID string
	// RuleVersion is the rule's content hash or model version.
	RuleVersion string
	Title       string
	Level       Level
	// Score in [0,1]: confidence for ML, 1 for rule matches.
	Score float64
	// Tags are the rule's tags; Techniques the ATT&CK ids among them (e.g. "T1110.001").
	Tags       []string
	Techniques []string
	Entities   []Entity
	// Time is the event time of the (last) evidence event.
	Time time.Time
	// EventIDs reference the evidence events.
	EventIDs []string
	// Explanation is one sentence a person reads.
	Explanation string
	// Details holds structured explanation fields (matched values, counts, features).
	Details map[string]any
}

// DeriveID computes a deterministic signal id from its detector, rule and evidence.
func DeriveID(detector, ruleID string, eventIDs ...string) string {
	h := sha256.New()
	h.Write([]byte(detector))
	h.Write([]byte{0})
	h.Write([]byte(ruleID))
	for _, id := range eventIDs {
		h.Write([]byte{0})
		h.Write([]byte(id))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// DeriveID1 is DeriveID of one evidence event, allocating only the result
// (the per-match path of the rule layer).
func DeriveID1(detector, ruleID, eventID string) string {
	var out [IDLen]byte
	return string(AppendID1(out[:0], detector, ruleID, eventID))
}

// IDLen is the length of a derived signal id.
const IDLen = 32

// AppendID1 appends DeriveID1(detector, ruleID, eventID) to dst (for a
// caller that builds the id inside a buffer it allocates anyway).
func AppendID1(dst []byte, detector, ruleID, eventID string) []byte {
	var buf [256]byte
	b := append(buf[:0], detector...)
	b = append(b, 0)
	b = append(b, ruleID...)
	b = append(b, 0)
	b = append(b, eventID...)
	sum := sha256.Sum256(b)
	var out [IDLen]byte
	hex.Encode(out[:], sum[:16])
	return append(dst, out[:]...)
}

// Techniques extracts ATT&CK technique ids ("attack.t1059.001" → "T1059.001") from Sigma-style tags.
func TechniquesFromTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		if len(t) > 8 && (t[:8] == "attack.t" || t[:8] == "attack.T") && t[8] >= '0' && t[8] <= '9' {
			b := []byte(t[7:])
			b[0] = 'T'
			out = append(out, string(b))
		}
	}
	return out
}
