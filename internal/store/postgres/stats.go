package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store"
)

var (
	_ store.StatsStore = (*Store)(nil)
	_ store.Retention  = (*Store)(nil)
)

// Stats counts events, alerts by level and quarantined records.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	st := store.Stats{Alerts: map[signal.Level]int64{}}
	// REPEATABLE READ: every count sees the same snapshot.
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM events),
			(SELECT count(*) FROM quarantine),
			(SELECT count(*) FROM alerts WHERE status = 'open')`).Scan(&st.Events, &st.Quarantined, &st.OpenAlerts); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT level, count(*) FROM alerts GROUP BY level`)
		if err != nil {
			return err
		}
		var (
			level string
			n     int64
		)
		_, err = pgx.ForEachRow(rows, []any{&level, &n}, func() error {
			st.Alerts[signal.Level(level)] = n
			return nil
		})
		return err
	})
	if err != nil {
		return st, fmt.Errorf("counting store rows: %w", err)
	}
	return st, nil
}

// PurgeAlerts deletes alerts last seen and stored before t (their signal
// ids, evidence index, entities and verdicts go with them through ON DELETE
// CASCADE).
func (s *Store) PurgeAlerts(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.purge(ctx, `DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE last_seen < $1 AND created < $1 LIMIT $2)`, before)
	if err != nil {
		return n, fmt.Errorf("purging alerts: %w", err)
	}
	return n, nil
}

// PurgeQuarantine deletes quarantined records older than t.
func (s *Store) PurgeQuarantine(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.purge(ctx, `DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine WHERE time < $1 LIMIT $2)`, before)
	if err != nil {
		return n, fmt.Errorf("purging quarantine: %w", err)
	}
	return n, nil
}

// PurgeRaw empties the raw record of events received before t.
func (s *Store) PurgeRaw(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.purge(ctx, `UPDATE events SET raw = '' WHERE id IN
		(SELECT id FROM events WHERE received < $1 AND octet_length(raw) > 0 LIMIT $2)`, before)
	if err != nil {
		return n, fmt.Errorf("purging raw records: %w", err)
	}
	return n, nil
}

// PurgeVerdicts deletes verdict history set before t and clears current
// verdicts set before t.
func (s *Store) PurgeVerdicts(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.purge(ctx, `DELETE FROM verdicts WHERE id IN (SELECT id FROM verdicts WHERE time < $1 LIMIT $2)`, before)
	if err == nil {
		_, err = s.purge(ctx, `UPDATE alerts SET verdict_kind = NULL, verdict_reason = NULL, verdict_author = NULL,
			verdict_time = NULL WHERE id IN (SELECT id FROM alerts WHERE verdict_time < $1 LIMIT $2)`, before)
	}
	if err != nil {
		return n, fmt.Errorf("purging verdicts: %w", err)
	}
	return n, nil
}

// purgeChunk bounds the rows one purge statement deletes, so a large purge
// does not hold locks for long.
const purgeChunk = 5000

// purge runs q (a DELETE taking the cutoff and a LIMIT) until it deletes
// fewer than purgeChunk rows.
func (s *Store) purge(ctx context.Context, q string, before time.Time) (int64, error) {
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, q, before, purgeChunk)
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < purgeChunk {
			return total, nil
		}
	}
}

var _ store.DetectorStatsStore = (*Store)(nil)

// DetectorStats groups alerts by detector with their current verdicts.
func (s *Store) DetectorStats(ctx context.Context) ([]store.DetectorStats, error) {
	rows, err := s.pool.Query(ctx, `SELECT detector, count(*), coalesce(sum(count), 0)::bigint,
		count(*) FILTER (WHERE status = 'open'),
		count(*) FILTER (WHERE verdict_kind = 'true_positive'),
		count(*) FILTER (WHERE verdict_kind = 'benign'),
		count(*) FILTER (WHERE verdict_kind = 'false_positive')
		FROM alerts GROUP BY detector ORDER BY detector`)
	if err != nil {
		return nil, fmt.Errorf("counting alerts by detector: %w", err)
	}
	out := []store.DetectorStats{}
	var d store.DetectorStats
	_, err = pgx.ForEachRow(rows, []any{&d.Detector, &d.Alerts, &d.Signals, &d.Open, &d.TruePositive, &d.Benign, &d.FalsePositive}, func() error {
		out = append(out, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("counting alerts by detector: %w", err)
	}
	return out, nil
}
