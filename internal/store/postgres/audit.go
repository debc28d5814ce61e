package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store"
)

// AuditStore is the audit.Store of a postgres.Store, sharing its pool.
type AuditStore struct{ s *Store }

var _ audit.Store = AuditStore{}

// Audit returns the store's audit chain.
func (s *Store) Audit() AuditStore { return AuditStore{s} }

// Append seals recs after the head and stores them in one transaction.
func (a AuditStore) Append(ctx context.Context, recs []audit.Record) ([]audit.Record, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	var out []audit.Record
	err := a.s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = a.s.appendAudit(ctx, tx, recs)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("appending %d audit records: %w", len(recs), err)
	}
	return out, nil
}

// appendAudit seals and inserts recs inside tx, the transaction of the
// change they record. The table lock (which readers do not wait for) makes
// concurrent appenders, on this node or others, take turns from reading
// the head to commit. Callers take it after their own row locks, so it is
// always the last lock of a transaction and cannot deadlock with them.
func (s *Store) appendAudit(ctx context.Context, tx pgx.Tx, recs []audit.Record) ([]audit.Record, error) {
	if _, err := tx.Exec(ctx, `LOCK TABLE audit_records IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return nil, fmt.Errorf("locking audit chain: %w", err)
	}
	head, err := auditHead(ctx, tx)
	if err != nil {
		return nil, err
	}
	out, err := audit.Seal(head, recs, s.now())
	if err != nil {
		return nil, err
	}
	// One statement for the whole batch: rows as parallel arrays.
	n := len(out)
	seq, tm := make([]int64, n), make([]int64, n)
	actor, action, kind, id, digest := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	vers, expl, prev, hash := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, r := range out {
		if vers[i], err = audit.EncodeVersions(r.Versions); err != nil {
			return nil, err
		}
		seq[i], tm[i] = r.Seq, r.Time.UnixMicro()
		actor[i], action[i], kind[i], id[i], digest[i] = r.Actor, r.Action, r.SubjectKind, r.SubjectID, r.InputDigest
		expl[i], prev[i], hash[i] = r.Explanation, r.PrevHash, r.Hash
	}
	_, err = tx.Exec(ctx, `INSERT INTO audit_records (seq, time, actor, action, subject_kind, subject_id, input_digest,
		versions, explanation, prev_hash, hash)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::text[], $11::text[])`,
		seq, tm, actor, action, kind, id, digest, vers, expl, prev, hash)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func auditHead(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (audit.Head, error) {
	var h audit.Head
	err := q.QueryRow(ctx, `SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1`).Scan(&h.Seq, &h.Hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return audit.Head{Hash: audit.ZeroHash}, nil
	}
	if err != nil {
		return audit.Head{}, fmt.Errorf("reading audit head: %w", err)
	}
	return h, nil
}

// Head returns the newest record's seq and hash.
func (a AuditStore) Head(ctx context.Context) (audit.Head, error) {
	return auditHead(ctx, a.s.pool)
}

// Range calls fn for records with from <= seq <= to (to <= 0: through the
// head) in ascending order, reading a page at a time so fn may be slow.
func (a AuditStore) Range(ctx context.Context, from, to int64, fn func(audit.Record) error) error {
	return audit.RangePages(ctx, from, to, a.page, fn)
}

func (a AuditStore) page(ctx context.Context, from, to int64) ([]audit.Record, error) {
	rows, err := a.s.pool.Query(ctx, `SELECT `+store.AuditRecordColumns+` FROM audit_records WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT $3`,
		from, to, audit.PageSize)
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
	_, err := a.s.pool.Exec(ctx, `INSERT INTO audit_checkpoints (seq, key_id, hash, time, signature) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT DO NOTHING`, c.Seq, c.KeyID, c.Hash, c.Time.UnixMicro(), c.Signature)
	if err != nil {
		return fmt.Errorf("storing audit checkpoint at seq %d: %w", c.Seq, err)
	}
	return nil
}

// maxCheckpoints bounds how many checkpoints Checkpoints reads.
const maxCheckpoints = 1 << 20

// Checkpoints returns every checkpoint ascending by seq.
func (a AuditStore) Checkpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	rows, err := a.s.pool.Query(ctx, `SELECT `+store.CheckpointColumns+` FROM audit_checkpoints
		ORDER BY seq, key_id LIMIT $1`, maxCheckpoints+1)
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
	err := a.s.inTx(ctx, func(tx pgx.Tx) error {
		var cut *int64
		if err := tx.QueryRow(ctx, `SELECT MAX(seq) FROM audit_checkpoints WHERE seq <= $1`, seq).Scan(&cut); err != nil {
			return err
		}
		if cut == nil {
			n = 0
			return nil
		}
		tag, err := tx.Exec(ctx, `DELETE FROM audit_records WHERE seq < $1`, *cut)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `DELETE FROM audit_checkpoints WHERE seq < $1`, *cut)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("deleting audit records before %d: %w", seq, err)
	}
	return n, nil
}

// fromMicros reads audit times, kept as Unix microseconds so they
// round-trip exactly into the hashed encoding.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// auditAlerts appends an alert_created record for each alert a
// RecordSignals batch created, inside its transaction (Options.Audit).
func (s *Store) auditAlerts(ctx context.Context, tx pgx.Tx, sigs []signal.Signal, out []alert.Alert, created []bool) error {
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
func (s *Store) auditOne(ctx context.Context, tx pgx.Tx, r audit.Record) error {
	if !s.audit {
		return nil
	}
	_, err := s.appendAudit(ctx, tx, []audit.Record{r})
	return err
}
