package store

import (
	"time"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/suppress"
)

// Rows is the part of a driver's result set the stores' shared readers use;
// database/sql's *sql.Rows and pgx.Rows both have it.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Collect reads every row with scan, in order; the first error (scan's or
// the result set's) ends it. The slice is empty, not nil, without rows.
func Collect[T any](rows Rows, scan func(Rows) (T, error)) ([]T, error) {
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ScanSuppressionRow is ScanSuppression over a result set's row.
func ScanSuppressionRow(rows Rows) (suppress.Suppression, error) { return ScanSuppression(rows.Scan) }

// AuditRecordColumns are the audit_records columns in the order
// ScanAuditRecord reads them (both stores' schemas).
const AuditRecordColumns = `seq, time, actor, action, subject_kind, subject_id, input_digest,
	versions, explanation, prev_hash, hash`

// ScanAuditRecord reads one row of AuditRecordColumns; times are Unix
// microseconds. A row whose versions do not decode is an
// *audit.RecordError naming its seq.
func ScanAuditRecord(rows Rows) (audit.Record, error) {
	var (
		r  audit.Record
		t  int64
		vs string
	)
	if err := rows.Scan(&r.Seq, &t, &r.Actor, &r.Action, &r.SubjectKind, &r.SubjectID, &r.InputDigest,
		&vs, &r.Explanation, &r.PrevHash, &r.Hash); err != nil {
		return r, err
	}
	r.Time = time.UnixMicro(t).UTC()
	var err error
	if r.Versions, err = audit.DecodeVersions(vs); err != nil {
		return r, &audit.RecordError{Seq: r.Seq, Err: err}
	}
	return r, nil
}

// CheckpointColumns are the audit_checkpoints columns in the order
// ScanCheckpoint reads them.
const CheckpointColumns = `seq, key_id, hash, time, signature`

// ScanCheckpoint reads one row of CheckpointColumns; times are Unix
// microseconds.
func ScanCheckpoint(rows Rows) (audit.Checkpoint, error) {
	var (
		c audit.Checkpoint
		t int64
	)
	if err := rows.Scan(&c.Seq, &c.KeyID, &c.Hash, &t, &c.Signature); err != nil {
		return c, err
	}
	c.Time = time.UnixMicro(t).UTC()
	return c, nil
}

// CountByReason reads (reason, count) rows into a map.
func CountByReason(rows Rows) (map[string]int64, error) {
	out := map[string]int64{}
	for rows.Next() {
		var (
			reason string
			n      int64
		)
		if err := rows.Scan(&reason, &n); err != nil {
			return nil, err
		}
		out[reason] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadAlertPage reads alerts in list order (newest LastSeen first, ties by
// id descending) from a query limited to limit+1 rows: the extra row only
// says another page exists, and Next is the cursor after the last alert
// returned.
func ReadAlertPage(rows Rows, scan func(Rows) (alert.Alert, error), limit int) (AlertPage, error) {
	as, err := Collect(rows, scan)
	if err != nil {
		return AlertPage{}, err
	}
	page := AlertPage{Alerts: as}
	if len(as) > limit {
		page.Alerts = as[:limit]
		last := page.Alerts[limit-1]
		page.Next = Cursor{LastSeen: last.LastSeen.UnixMicro(), ID: last.ID}.Encode()
	}
	return page, nil
}
