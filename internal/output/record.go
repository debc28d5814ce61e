package output

import (
	"encoding/json"
	"time"

	"github.com/rampart-ids/rampart/internal/alert"
)

// Record is the JSON shape of an alert sent by outputs (one object per
// alert; JSON lines in files, an array per webhook POST). Field names are
// stable: add fields, rename none.
type Record struct {
	ID          string         `json:"id"`
	Detector    string         `json:"detector"`
	Layer       string         `json:"layer"`
	RuleID      string         `json:"rule_id"`
	RuleVersion string         `json:"rule_version,omitempty"`
	Title       string         `json:"title"`
	Level       string         `json:"level"`
	Score       float64        `json:"score"`
	Tags        []string       `json:"tags,omitempty"`
	Techniques  []string       `json:"techniques,omitempty"`
	Entities    []Entity       `json:"entities,omitempty"`
	EntityKey   string         `json:"entity_key,omitempty"`
	FirstSeen   time.Time      `json:"first_seen"`
	LastSeen    time.Time      `json:"last_seen"`
	Count       int64          `json:"count"`
	EventIDs    []string       `json:"event_ids,omitempty"`
	Explanation string         `json:"explanation,omitempty"`
	Details     map[string]any `json:"details,omitempty"`
	Status      string         `json:"status,omitempty"`
	Verdict     *Verdict       `json:"verdict,omitempty"`
	Created     *time.Time     `json:"created,omitempty"`
}

// Entity is one entity of a Record.
type Entity struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// Verdict is the analyst verdict of a Record.
type Verdict struct {
	Kind   string    `json:"kind"`
	Reason string    `json:"reason,omitempty"`
	Author string    `json:"author,omitempty"`
	Time   time.Time `json:"time"`
}

// NewRecord converts an alert to its wire shape.
func NewRecord(a *alert.Alert) Record {
	r := Record{
		ID: a.ID, Detector: a.Detector, Layer: string(a.Layer), RuleID: a.RuleID, RuleVersion: a.RuleVersion,
		Title: a.Title, Level: string(a.Level), Score: a.Score, Tags: a.Tags, Techniques: a.Techniques,
		EntityKey: a.EntityKey, FirstSeen: a.FirstSeen.UTC(), LastSeen: a.LastSeen.UTC(), Count: a.Count,
		EventIDs: a.EventIDs, Explanation: a.Explanation, Details: a.Details, Status: string(a.Status),
	}
	for _, e := range a.Entities {
		r.Entities = append(r.Entities, Entity{Kind: e.Kind, Value: e.Value})
	}
	if v := a.Verdict; v != nil {
		r.Verdict = &Verdict{Kind: string(v.Kind), Reason: v.Reason, Author: v.Author, Time: v.Time.UTC()}
	}
	if !a.Created.IsZero() {
		c := a.Created.UTC()
		r.Created = &c
	}
	return r
}

// EncodeJSON renders an alert as one JSON object. It never fails: details
// that cannot be encoded (NaN, unsupported types) are replaced by a note, so
// an alert is never dropped for its explanation.
func EncodeJSON(a *alert.Alert) []byte {
	r := NewRecord(a)
	b, err := json.Marshal(r)
	if err == nil {
		return b
	}
	r.Details = map[string]any{"encoding_error": err.Error()}
	b, err = json.Marshal(r)
	if err != nil {
		// Only a non-finite score can fail now.
		r.Score = 0
		b, _ = json.Marshal(r)
	}
	return b
}
