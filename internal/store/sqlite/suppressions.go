package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/suppress"
)

var _ store.SuppressionStore = (*Store)(nil)

// CreateSuppression stores s and audits it in the same transaction.
func (s *Store) CreateSuppression(ctx context.Context, sp suppress.Suppression) error {
	if err := sp.Validate(); err != nil {
		return fmt.Errorf("creating suppression: %w: %w", store.ErrInvalid, err)
	}
	sp.Created, sp.Expires = store.StoredTime(sp.Created), store.StoredTime(sp.Expires)
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO suppressions (`+store.SuppressionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, '')`,
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

// ListSuppressions returns every stored suppression, oldest first.
func (s *Store) ListSuppressions(ctx context.Context) ([]suppress.Suppression, error) {
	out, err := s.listSuppressions(ctx, s.r, `SELECT `+store.SuppressionColumns+` FROM suppressions ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("listing suppressions: %w", err)
	}
	return out, nil
}

func (s *Store) listSuppressions(ctx context.Context, db rowQuerier, q string, args ...any) ([]suppress.Suppression, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.Collect(rows, store.ScanSuppressionRow)
}

// GetSuppression returns one suppression or store.ErrNotFound.
func (s *Store) GetSuppression(ctx context.Context, id string) (suppress.Suppression, error) {
	sp, err := store.ScanSuppression(s.r.QueryRowContext(ctx, `SELECT `+store.SuppressionColumns+` FROM suppressions WHERE id = ?`, id).Scan)
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
		sp, err := store.ScanSuppression(tx.QueryRowContext(ctx, `SELECT `+store.SuppressionColumns+` FROM suppressions WHERE id = ?`, id).Scan)
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
		gone, err := s.listSuppressions(ctx, tx, `SELECT `+store.SuppressionColumns+` FROM suppressions WHERE expires <= ? ORDER BY created, id`, micros(now))
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
