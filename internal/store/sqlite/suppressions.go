package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/suppress"
)

var _ store.SuppressionStore = (*Store)(nil)

const suppressionCols = `id, detector, rule_id, entities, reason, created_by, created, expires,
	origin_alert, origin_verdict, hits, last_hit, last_event_id`

// CreateSuppression stores s and audits it in the same transaction.
func (s *Store) CreateSuppression(ctx context.Context, sp suppress.Suppression) error {
	if err := sp.Validate(); err != nil {
		return fmt.Errorf("creating suppression: %w: %w", store.ErrInvalid, err)
	}
	sp.Created, sp.Expires = store.StoredTime(sp.Created), store.StoredTime(sp.Expires)
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO suppressions (`+suppressionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, '')`,
			sp.ID, sp.Detector, sp.RuleID, store.EncodeSuppressionEntities(sp.Entities), sp.Reason, sp.CreatedBy,
			micros(sp.Created), micros(sp.Expires), sp.OriginAlert, string(sp.OriginVerdict))
		if isUniqueViolation(err) {
			return store.ErrConflict
		}
		if err != nil {
			return err
		}
		return s.auditOne(ctx, tx, store.SuppressionCreated(ctx, sp))
	})
	if err != nil {
		return fmt.Errorf("creating suppression %s: %w", sp.ID, err)
	}
	return nil
}

type rowScanner interface{ Scan(dest ...any) error }

func scanSuppression(r rowScanner) (suppress.Suppression, error) {
	var (
		sp                     suppress.Suppression
		ents, verdict          string
		created, expires, last int64
	)
	if err := r.Scan(&sp.ID, &sp.Detector, &sp.RuleID, &ents, &sp.Reason, &sp.CreatedBy, &created, &expires,
		&sp.OriginAlert, &verdict, &sp.Hits, &last, &sp.LastEventID); err != nil {
		return sp, err
	}
	var err error
	if sp.Entities, err = store.DecodeSuppressionEntities(ents); err != nil {
		return sp, err
	}
	sp.OriginVerdict = alert.VerdictKind(verdict)
	sp.Created, sp.Expires = fromMicros(created), fromMicros(expires)
	if last != 0 {
		sp.LastHit = fromMicros(last)
	}
	return sp, nil
}

// ListSuppressions returns every stored suppression, oldest first.
func (s *Store) ListSuppressions(ctx context.Context) ([]suppress.Suppression, error) {
	out, err := s.listSuppressions(ctx, s.r, `SELECT `+suppressionCols+` FROM suppressions ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("listing suppressions: %w", err)
	}
	return out, nil
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func (s *Store) listSuppressions(ctx context.Context, db querier, q string, args ...any) ([]suppress.Suppression, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []suppress.Suppression{}
	for rows.Next() {
		sp, err := scanSuppression(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sp)
	}
	return out, rows.Err()
}

// GetSuppression returns one suppression or store.ErrNotFound.
func (s *Store) GetSuppression(ctx context.Context, id string) (suppress.Suppression, error) {
	sp, err := scanSuppression(s.r.QueryRowContext(ctx, `SELECT `+suppressionCols+` FROM suppressions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return sp, fmt.Errorf("reading suppression %s: %w", id, err)
	}
	return sp, nil
}

// DeleteSuppression deletes one suppression and audits it in the same transaction.
func (s *Store) DeleteSuppression(ctx context.Context, id, why string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		sp, err := scanSuppression(tx.QueryRowContext(ctx, `SELECT `+suppressionCols+` FROM suppressions WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM suppressions WHERE id = ?`, id); err != nil {
			return err
		}
		return s.auditOne(ctx, tx, store.SuppressionDeleted(ctx, sp, why))
	})
	if err != nil {
		return fmt.Errorf("deleting suppression %s: %w", id, err)
	}
	return nil
}

// ExpireSuppressions deletes the suppressions expired at now, each audited.
func (s *Store) ExpireSuppressions(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		gone, err := s.listSuppressions(ctx, tx, `SELECT `+suppressionCols+` FROM suppressions WHERE expires <= ? ORDER BY created, id`, micros(now))
		if err != nil {
			return err
		}
		for _, sp := range gone {
			if _, err := tx.ExecContext(ctx, `DELETE FROM suppressions WHERE id = ?`, sp.ID); err != nil {
				return err
			}
			if err := s.auditOne(ctx, tx, store.SuppressionDeleted(ctx, sp, "expired")); err != nil {
				return err
			}
		}
		n = int64(len(gone))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("expiring suppressions: %w", err)
	}
	return n, nil
}

// AddSuppressionHits adds counted hits in one transaction.
func (s *Store) AddSuppressionHits(ctx context.Context, hits []suppress.Hit) error {
	if len(hits) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, h := range hits {
			last := micros(store.StoredTime(h.Last))
			_, err := tx.ExecContext(ctx, `UPDATE suppressions SET hits = hits + ?,
				last_event_id = CASE WHEN ? >= last_hit THEN ? ELSE last_event_id END,
				last_hit = MAX(last_hit, ?) WHERE id = ?`, h.Count, last, h.LastEventID, last, h.ID)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("adding suppression hits: %w", err)
	}
	return nil
}
