package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store"
)

// AuditStore is the audit.Store of a sqlite.Store, sharing its database.
type AuditStore struct{ s *Store }

var _ audit.Store = AuditStore{}

// Audit returns the store's audit chain.
func (s *Store) Audit() AuditStore { return AuditStore{s} }

// Append seals recs after the head and stores them in one write
// transaction. SQLite's single writer makes head and insert atomic.
func (a AuditStore) Append(ctx context.Context, recs []audit.Record) ([]audit.Record, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	var out []audit.Record
	err := a.s.write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = a.s.appendAudit(ctx, tx, recs)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("appending %d audit records: %w", len(recs), err)
	}
	return out, nil
}

// appendAudit seals and inserts recs inside tx, the write transaction of
// the change they record.
func (s *Store) appendAudit(ctx context.Context, tx *sql.Tx, recs []audit.Record) ([]audit.Record, error) {
	head, err := auditHead(ctx, tx)
	if err != nil {
		return nil, err
	}
	out, err := audit.Seal(head, recs, s.now())
	if err != nil {
		return nil, err
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO audit_records (seq, time, actor, action, subject_kind, subject_id,
		input_digest, versions, explanation, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	for _, r := range out {
		vs, err := audit.EncodeVersions(r.Versions)
		if err != nil {
			return nil, err
		}
		if _, err := st.ExecContext(ctx, r.Seq, micros(r.Time), r.Actor, r.Action, r.SubjectKind, r.SubjectID,
			r.InputDigest, vs, r.Explanation, r.PrevHash, r.Hash); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func auditHead(ctx context.Context, q rowQuerier) (audit.Head, error) {
	var h audit.Head
	err := q.QueryRowContext(ctx, `SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1`).Scan(&h.Seq, &h.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Head{Hash: audit.ZeroHash}, nil
	}
	if err != nil {
		return audit.Head{}, fmt.Errorf("reading audit head: %w", err)
	}
	return h, nil
}

// Head returns the newest record's seq and hash.
func (a AuditStore) Head(ctx context.Context) (audit.Head, error) {
	return auditHead(ctx, a.s.r)
}

// Range calls fn for records with from <= seq <= to (to <= 0: through the
// head) in ascending order, reading a page at a time so fn may be slow.
func (a AuditStore) Range(ctx context.Context, from, to int64, fn func(audit.Record) error) error {
	return audit.RangePages(ctx, from, to, a.page, fn)
}

func (a AuditStore) page(ctx context.Context, from, to int64) ([]audit.Record, error) {
	rows, err := a.s.r.QueryContext(ctx, `SELECT `+store.AuditRecordColumns+` FROM audit_records WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT ?`, from, to, audit.PageSize)
	if err != nil {
		return nil, fmt.Errorf("reading audit records: %w", err)
	}
	defer rows.Close()
	out, err := store.Collect(rows, store.ScanAuditRecord)
	var re *audit.RecordError
	if err != nil && !errors.As(err, &re) {
		return nil, fmt.Errorf("reading audit records: %w", err)
	}
	return out, err
}

// AddCheckpoint stores c; storing the same (seq, key) again is a no-op.
func (a AuditStore) AddCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	err := a.s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (seq, key_id, hash, time, signature) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, c.Seq, c.KeyID, c.Hash, micros(c.Time), c.Signature)
		return err
	})
	if err != nil {
		return fmt.Errorf("storing audit checkpoint at seq %d: %w", c.Seq, err)
	}
	return nil
}

// maxCheckpoints bounds how many checkpoints Checkpoints reads: at one per
// minute that is about two years; retention keeps the table far smaller.
const maxCheckpoints = 1 << 20

// Checkpoints returns every checkpoint ascending by seq.
func (a AuditStore) Checkpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	rows, err := a.s.r.QueryContext(ctx, `SELECT `+store.CheckpointColumns+` FROM audit_checkpoints
		ORDER BY seq, key_id LIMIT ?`, maxCheckpoints+1)
	if err != nil {
		return nil, fmt.Errorf("reading audit checkpoints: %w", err)
	}
	defer rows.Close()
	out, err := store.Collect(rows, store.ScanCheckpoint)
	if err != nil {
		return nil, fmt.Errorf("reading audit checkpoints: %w", err)
	}
	if len(out) > maxCheckpoints {
		return nil, fmt.Errorf("reading audit checkpoints: more than %d", maxCheckpoints)
	}
	return out, nil
}

// DeleteBefore removes records and checkpoints before the newest
// checkpoint at or below seq, in one transaction.
func (a AuditStore) DeleteBefore(ctx context.Context, seq int64) (int64, error) {
	var n int64
	err := a.s.write(ctx, func(tx *sql.Tx) error {
		var cut sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(seq) FROM audit_checkpoints WHERE seq <= ?`, seq).Scan(&cut); err != nil {
			return err
		}
		if !cut.Valid {
			return nil
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_records WHERE seq < ?`, cut.Int64)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM audit_checkpoints WHERE seq < ?`, cut.Int64)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("deleting audit records before %d: %w", seq, err)
	}
	return n, nil
}

// auditAlerts appends an alert_created record for each alert a
// RecordSignals batch created, inside its transaction (Options.Audit).
func (s *Store) auditAlerts(ctx context.Context, tx *sql.Tx, sigs []signal.Signal, out []alert.Alert, created []bool) error {
	if !s.audit {
		return nil
	}
	var recs []audit.Record
	for i, c := range created {
		if c {
			recs = append(recs, audit.AlertCreated(ctx, out[i], sigs[i]))
		}
	}
	if len(recs) == 0 {
		return nil
	}
	_, err := s.appendAudit(ctx, tx, recs)
	return err
}

// auditOne appends r inside tx when auditing is on.
func (s *Store) auditOne(ctx context.Context, tx *sql.Tx, r audit.Record) error {
	if !s.audit {
		return nil
	}
	_, err := s.appendAudit(ctx, tx, []audit.Record{r})
	return err
}
