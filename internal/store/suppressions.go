package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/suppress"
)

// SuppressionStore is implemented by stores that keep suppressions (both
// stores in this repository do). With auditing on, creating and deleting
// (including expiry) write their audit record in the same transaction.
type SuppressionStore interface {
	// CreateSuppression stores s (validated with s.Validate: ErrInvalid
	// otherwise); ErrConflict if its id exists. Audited as suppression_created.
	CreateSuppression(ctx context.Context, s suppress.Suppression) error
	// ListSuppressions returns every stored suppression, expired or not,
	// oldest first.
	ListSuppressions(ctx context.Context) ([]suppress.Suppression, error)
	// GetSuppression returns one suppression or ErrNotFound.
	GetSuppression(ctx context.Context, id string) (suppress.Suppression, error)
	// DeleteSuppression deletes one (ErrNotFound if none), audited as
	// suppression_deleted with why and the hits it took.
	DeleteSuppression(ctx context.Context, id, why string) error
	// ExpireSuppressions deletes those whose Expires is at or before now,
	// each audited as suppression_deleted, and returns how many.
	ExpireSuppressions(ctx context.Context, now time.Time) (int64, error)
	// AddSuppressionHits adds counted hits (Count added, LastHit and
	// LastEventID replaced when newer); ids no longer stored are ignored.
	AddSuppressionHits(ctx context.Context, hits []suppress.Hit) error
}

// SuppressionCreated is the audit record of a new suppression: the input
// digest covers its scope, the explanation says what it hides, why, until
// when, and the alert (and verdict) it was born from.
func SuppressionCreated(ctx context.Context, s suppress.Suppression) audit.Record {
	parts := [][]byte{[]byte(s.Detector), []byte(s.RuleID)}
	for _, e := range s.Entities {
		parts = append(parts, []byte(e.String()))
	}
	expl := fmt.Sprintf("suppress %s until %s: %s", s.Scope(), s.Expires.UTC().Format(time.RFC3339), s.Reason)
	if s.OriginAlert != "" {
		expl += fmt.Sprintf(" (from alert %s", s.OriginAlert)
		if s.OriginVerdict != "" {
			expl += ", verdict " + string(s.OriginVerdict)
		}
		expl += ")"
	}
	r := audit.Change(ctx, audit.ActionSuppressionCreated, "suppression", s.ID, audit.Digest(parts...),
		map[string]string{"detector": s.Detector, "rule": s.RuleID}, expl)
	if r.Actor == audit.ActorSystem && s.CreatedBy != "" {
		r.Actor = audit.Clip("user:"+s.CreatedBy, audit.MaxActor)
	}
	r.Time = s.Created
	return r
}

// SuppressionDeleted is the audit record of a suppression's end: deleted
// by a person (why given) or expired.
func SuppressionDeleted(ctx context.Context, s suppress.Suppression, why string) audit.Record {
	expl := fmt.Sprintf("suppression of %s ended (%s) after %d hidden signals", s.Scope(), audit.Clip(why, suppress.MaxReason), s.Hits)
	return audit.Change(ctx, audit.ActionSuppressionDeleted, "suppression", s.ID, "",
		map[string]string{"detector": s.Detector, "rule": s.RuleID}, expl)
}

type entityJSON struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// EncodeSuppressionEntities is the stored JSON of a suppression's entities.
func EncodeSuppressionEntities(es []suppress.Entity) string {
	out := make([]entityJSON, len(es))
	for i, e := range es {
		out[i] = entityJSON{Kind: e.Kind, Value: e.Value}
	}
	b, _ := json.Marshal(out) // strings only: cannot fail
	return string(b)
}

// DecodeSuppressionEntities reads what EncodeSuppressionEntities wrote.
func DecodeSuppressionEntities(s string) ([]suppress.Entity, error) {
	var in []entityJSON
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, fmt.Errorf("decoding suppression entities: %w", err)
	}
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]suppress.Entity, len(in))
	for i, e := range in {
		out[i] = suppress.Entity{Kind: e.Kind, Value: e.Value}
	}
	return out, nil
}

// SuppressionColumns are the suppressions table's columns in the order
// ScanSuppression reads them (both stores' schemas).
const SuppressionColumns = `id, detector, rule_id, entities, reason, created_by, created, expires,
	origin_alert, origin_verdict, hits, last_hit, last_event_id`

// ScanSuppression reads one row of SuppressionColumns through scan (a
// driver row's Scan); times are stored as Unix microseconds.
func ScanSuppression(scan func(dest ...any) error) (suppress.Suppression, error) {
	var (
		sp                     suppress.Suppression
		ents, verdict          string
		created, expires, last int64
	)
	if err := scan(&sp.ID, &sp.Detector, &sp.RuleID, &ents, &sp.Reason, &sp.CreatedBy, &created, &expires,
		&sp.OriginAlert, &verdict, &sp.Hits, &last, &sp.LastEventID); err != nil {
		return sp, err
	}
	var err error
	if sp.Entities, err = DecodeSuppressionEntities(ents); err != nil {
		return sp, err
	}
	sp.OriginVerdict = alert.VerdictKind(verdict)
	sp.Created, sp.Expires = time.UnixMicro(created).UTC(), time.UnixMicro(expires).UTC()
	if last != 0 {
		sp.LastHit = time.UnixMicro(last).UTC()
	}
	return sp, nil
}
