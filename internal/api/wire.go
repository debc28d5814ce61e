package api

import (
	"time"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store"
)

// This file is the one owner of JSON wire shapes: domain types carry no json
// tags; the API, `rampart replay` and `rampart explain` convert here.

// Entity is an entity on the wire.
type Entity struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// Signal is a signal on the wire (the JSON lines `rampart replay` prints).
type Signal struct {
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
	Timestamp   *time.Time     `json:"timestamp,omitempty"`
	EventIDs    []string       `json:"event_ids"`
	Source      string         `json:"source,omitempty"`
	Explanation string         `json:"explanation,omitempty"`
	Details     map[string]any `json:"details,omitempty"`
}

// Alert is an alert on the wire.
type Alert struct {
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
	FirstSeen   time.Time      `json:"first_seen"`
	LastSeen    time.Time      `json:"last_seen"`
	Count       int64          `json:"count"`
	EventIDs    []string       `json:"event_ids"`
	Explanation string         `json:"explanation,omitempty"`
	Details     map[string]any `json:"details,omitempty"`
	Status      string         `json:"status"`
	Verdict     *Verdict       `json:"verdict,omitempty"`
	Created     time.Time      `json:"created"`
}

// Verdict is a verdict on the wire.
type Verdict struct {
	Verdict string    `json:"verdict"`
	Reason  string    `json:"reason"`
	Author  string    `json:"author"`
	Time    time.Time `json:"time"`
}

// Event is a normalized event on the wire: ECS fields as nested objects.
type Event struct {
	ID        string         `json:"id"`
	Timestamp *time.Time     `json:"@timestamp,omitempty"`
	Source    string         `json:"source_name,omitempty"`
	Format    string         `json:"format"`
	Fields    map[string]any `json:"fields"`
	Raw       string         `json:"raw,omitempty"`
}

// Quarantined is a quarantined record on the wire.
type Quarantined struct {
	Time     time.Time `json:"time"`
	Source   string    `json:"source"`
	Position string    `json:"position,omitempty"`
	Reason   string    `json:"reason"`
	Raw      string    `json:"raw"`
}

func entities(es []signal.Entity) []Entity {
	if len(es) == 0 {
		return nil
	}
	out := make([]Entity, len(es))
	for i, e := range es {
		out[i] = Entity{Kind: e.Kind, Value: e.Value}
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// SignalJSON converts a signal for the wire. source is the evidence event's source (may be empty).
func SignalJSON(s *signal.Signal, source string) Signal {
	ids := s.EventIDs
	if ids == nil {
		ids = []string{}
	}
	return Signal{
		ID: s.ID, Detector: s.Detector, Layer: string(s.Layer), RuleID: s.RuleID, RuleVersion: s.RuleVersion,
		Title: s.Title, Level: string(s.Level), Score: s.Score, Tags: s.Tags, Techniques: s.Techniques,
		Entities: entities(s.Entities), Timestamp: timePtr(s.Time), EventIDs: ids, Source: source,
		Explanation: s.Explanation, Details: s.Details,
	}
}

// AlertJSON converts an alert for the wire.
func AlertJSON(a *alert.Alert) Alert {
	ids := a.EventIDs
	if ids == nil {
		ids = []string{}
	}
	out := Alert{
		ID: a.ID, Detector: a.Detector, Layer: string(a.Layer), RuleID: a.RuleID, RuleVersion: a.RuleVersion,
		Title: a.Title, Level: string(a.Level), Score: a.Score, Tags: a.Tags, Techniques: a.Techniques,
		Entities: entities(a.Entities), FirstSeen: a.FirstSeen.UTC(), LastSeen: a.LastSeen.UTC(), Count: a.Count,
		EventIDs: ids, Explanation: a.Explanation, Details: a.Details, Status: string(a.Status), Created: a.Created.UTC(),
	}
	if a.Verdict != nil {
		out.Verdict = &Verdict{Verdict: string(a.Verdict.Kind), Reason: a.Verdict.Reason, Author: a.Verdict.Author, Time: a.Verdict.Time.UTC()}
	}
	return out
}

// EventJSON converts an event for the wire; raw is included only when withRaw.
func EventJSON(ev *event.Event, withRaw bool) Event {
	out := Event{ID: ev.ID, Timestamp: timePtr(ev.Time), Source: ev.Source, Format: ev.Format, Fields: ev.Nested()}
	if withRaw {
		out.Raw = string(ev.Raw)
	}
	return out
}

// QuarantinedJSON converts a quarantined record for the wire.
func QuarantinedJSON(q *store.Quarantined) Quarantined {
	return Quarantined{Time: q.Time.UTC(), Source: q.Source, Position: q.Position, Reason: q.Reason, Raw: string(q.Raw)}
}

// Session is the body of the console session endpoints.
type Session struct {
	Name string `json:"name"`
	Role string `json:"role"`
	CSRF string `json:"csrf,omitempty"`
}

// DetectorHealth is one detector's volume and measured precision.
type DetectorHealth struct {
	Detector      string `json:"detector"`
	Alerts        int64  `json:"alerts"`
	Signals       int64  `json:"signals"`
	Open          int64  `json:"open"`
	TruePositive  int64  `json:"true_positive"`
	Benign        int64  `json:"benign"`
	FalsePositive int64  `json:"false_positive"`
	// Precision is TP/(TP+FP) over judged alerts; null before any.
	Precision *float64 `json:"precision"`
}

// DetectorHealthJSON converts a store's per-detector counts for the wire.
func DetectorHealthJSON(d store.DetectorStats) DetectorHealth {
	out := DetectorHealth{Detector: d.Detector, Alerts: d.Alerts, Signals: d.Signals, Open: d.Open,
		TruePositive: d.TruePositive, Benign: d.Benign, FalsePositive: d.FalsePositive}
	if n := d.TruePositive + d.FalsePositive; n > 0 {
		p := float64(d.TruePositive) / float64(n)
		out.Precision = &p
	}
	return out
}

// AuditRecord is an audit record on the wire.
type AuditRecord struct {
	Seq         int64             `json:"seq"`
	Time        time.Time         `json:"time"`
	Actor       string            `json:"actor"`
	Action      string            `json:"action"`
	SubjectKind string            `json:"subject_kind,omitempty"`
	SubjectID   string            `json:"subject_id,omitempty"`
	InputDigest string            `json:"input_digest,omitempty"`
	Versions    map[string]string `json:"versions,omitempty"`
	Explanation string            `json:"explanation,omitempty"`
	PrevHash    string            `json:"prev_hash"`
	Hash        string            `json:"hash"`
}

// AuditRecordJSON converts an audit record for the wire.
func AuditRecordJSON(r *audit.Record) AuditRecord {
	return AuditRecord{Seq: r.Seq, Time: r.Time.UTC(), Actor: r.Actor, Action: r.Action, SubjectKind: r.SubjectKind,
		SubjectID: r.SubjectID, InputDigest: r.InputDigest, Versions: r.Versions, Explanation: r.Explanation,
		PrevHash: r.PrevHash, Hash: r.Hash}
}

// AuditVerification is the outcome of verifying the audit chain.
type AuditVerification struct {
	OK            bool          `json:"ok"`
	Records       int64         `json:"records"`
	FirstSeq      int64         `json:"first_seq"`
	LastSeq       int64         `json:"last_seq"`
	Checkpoints   int           `json:"checkpoints"`
	SignedThrough int64         `json:"signed_through"`
	Unsigned      int64         `json:"unsigned"`
	Problem       *AuditProblem `json:"problem,omitempty"`
}

// AuditProblem names the first bad record.
type AuditProblem struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

// AuditVerificationJSON converts a verification report for the wire.
func AuditVerificationJSON(rep audit.Report) AuditVerification {
	out := AuditVerification{OK: rep.OK, Records: rep.Records, FirstSeq: rep.FirstSeq, LastSeq: rep.LastSeq,
		Checkpoints: rep.Checkpoints, SignedThrough: rep.SignedThrough, Unsigned: rep.Unsigned}
	if rep.Problem != nil {
		out.Problem = &AuditProblem{Seq: rep.Problem.Seq, Reason: rep.Problem.Reason}
	}
	return out
}
