package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO suppressions (`+store.SuppressionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 0, '')`,
			pgText(sp.ID), pgText(sp.Detector), pgText(sp.RuleID), pgText(store.EncodeSuppressionEntities(sp.Entities)),
			pgText(sp.Reason), pgText(sp.CreatedBy), sp.Created.UnixMicro(), sp.Expires.UnixMicro(),
			pgText(sp.OriginAlert), string(sp.OriginVerdict))
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

type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func listSuppressions(ctx context.Context, db queryer, q string, args ...any) ([]suppress.Suppression, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.Collect(rows, store.ScanSuppressionRow)
}

// ListSuppressions returns every stored suppression, oldest first.
func (s *Store) ListSuppressions(ctx context.Context) ([]suppress.Suppression, error) {
	out, err := listSuppressions(ctx, s.pool, `SELECT `+store.SuppressionColumns+` FROM suppressions ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("listing suppressions: %w", err)
	}
	return out, nil
}

// GetSuppression returns one suppression or store.ErrNotFound.
func (s *Store) GetSuppression(ctx context.Context, id string) (suppress.Suppression, error) {
	sp, err := store.ScanSuppression(s.pool.QueryRow(ctx, `SELECT `+store.SuppressionColumns+` FROM suppressions WHERE id = $1`, pgText(id)).Scan)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return sp, fmt.Errorf("reading suppression %s: %w", id, err)
	}
	return sp, nil
}

// DeleteSuppression deletes one suppression and audits it in the same transaction.
func (s *Store) DeleteSuppression(ctx context.Context, id, why string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		sp, err := store.ScanSuppression(tx.QueryRow(ctx, `DELETE FROM suppressions WHERE id = $1 RETURNING `+store.SuppressionColumns, pgText(id)).Scan)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
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
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		gone, err := listSuppressions(ctx, tx, `DELETE FROM suppressions WHERE expires <= $1 RETURNING `+store.SuppressionColumns, now.UnixMicro())
		if err != nil {
			return err
		}
		// RETURNING has no order: audit in the order List uses.
		sortSuppressions(gone)
		for _, sp := range gone {
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
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		for _, h := range hits {
			last := store.StoredTime(h.Last).UnixMicro()
			_, err := tx.Exec(ctx, `UPDATE suppressions SET hits = hits + $1,
				last_event_id = CASE WHEN $2 >= last_hit THEN $3 ELSE last_event_id END,
				last_hit = GREATEST(last_hit, $2) WHERE id = $4`, h.Count, last, pgText(h.LastEventID), pgText(h.ID))
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

func sortSuppressions(ss []suppress.Suppression) {
	slices.SortFunc(ss, func(a, b suppress.Suppression) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
