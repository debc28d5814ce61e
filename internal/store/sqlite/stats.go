package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

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
	// One read transaction, so the counts are of one snapshot.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return st, fmt.Errorf("counting store rows: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT
		(SELECT coalesce(sum(events), 0) FROM event_chunks),
		(SELECT count(*) FROM quarantine),
		(SELECT count(*) FROM alerts WHERE status = 'open')`).Scan(&st.Events, &st.Quarantined, &st.OpenAlerts); err != nil {
		return st, fmt.Errorf("counting store rows: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT level, count(*) FROM alerts GROUP BY level`)
	if err != nil {
		return st, fmt.Errorf("counting alerts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			level string
			n     int64
		)
		if err := rows.Scan(&level, &n); err != nil {
			return st, fmt.Errorf("counting alerts: %w", err)
		}
		st.Alerts[signal.Level(level)] = n
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("counting alerts: %w", err)
	}
	return st, nil
}

// PurgeAlerts deletes alerts last seen and stored before t (their signal
// ids, evidence index, entities and verdicts go with them through ON DELETE
// CASCADE).
func (s *Store) PurgeAlerts(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.purge(ctx, `DELETE FROM alerts WHERE rowid IN (SELECT rowid FROM alerts WHERE last_seen < ?1 AND created < ?1 LIMIT ?2)`, before)
	if err != nil {
		return n, fmt.Errorf("purging alerts: %w", err)
	}
	return n, nil
}

// PurgeQuarantine deletes quarantined records older than t.
func (s *Store) PurgeQuarantine(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.purge(ctx, `DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine WHERE time < ? LIMIT ?)`, before)
	if err != nil {
		return n, fmt.Errorf("purging quarantine: %w", err)
	}
	return n, nil
}

// PurgeVerdicts deletes verdict history set before t and clears current
// verdicts set before t.
func (s *Store) PurgeVerdicts(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.purge(ctx, `DELETE FROM verdicts WHERE id IN (SELECT id FROM verdicts WHERE time < ? LIMIT ?)`, before)
	if err == nil {
		_, err = s.purge(ctx, `UPDATE alerts SET verdict_kind = NULL, verdict_reason = NULL, verdict_author = NULL,
			verdict_time = NULL WHERE rowid IN (SELECT rowid FROM alerts WHERE verdict_time < ? LIMIT ?)`, before)
	}
	if err != nil {
		return n, fmt.Errorf("purging verdicts: %w", err)
	}
	return n, nil
}

// purgeChunk bounds the rows one purge transaction deletes, so a large purge
// does not hold the write lock for long.
const purgeChunk = 5000

// purge runs q (a DELETE taking the cutoff and a LIMIT) until it deletes
// fewer than purgeChunk rows, one transaction per chunk.
func (s *Store) purge(ctx context.Context, q string, before time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.write(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, q, micros(before), purgeChunk)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		total += n
		if err != nil || n < purgeChunk {
			return total, err
		}
	}
}

var _ store.DetectorStatsStore = (*Store)(nil)

// DetectorStats groups alerts by detector with their current verdicts.
func (s *Store) DetectorStats(ctx context.Context) ([]store.DetectorStats, error) {
	rows, err := s.r.QueryContext(ctx, detectorStatsQuery)
	if err != nil {
		return nil, fmt.Errorf("counting alerts by detector: %w", err)
	}
	defer rows.Close()
	out := []store.DetectorStats{}
	for rows.Next() {
		var d store.DetectorStats
		if err := rows.Scan(&d.Detector, &d.Alerts, &d.Signals, &d.Open, &d.TruePositive, &d.Benign, &d.FalsePositive); err != nil {
			return nil, fmt.Errorf("counting alerts by detector: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting alerts by detector: %w", err)
	}
	return out, nil
}

// detectorStatsQuery is plain SQL both stores share.
const detectorStatsQuery = `SELECT detector, count(*), coalesce(sum(count), 0),
	sum(CASE WHEN status = 'open' THEN 1 ELSE 0 END),
	sum(CASE WHEN verdict_kind = 'true_positive' THEN 1 ELSE 0 END),
	sum(CASE WHEN verdict_kind = 'benign' THEN 1 ELSE 0 END),
	sum(CASE WHEN verdict_kind = 'false_positive' THEN 1 ELSE 0 END)
	FROM alerts GROUP BY detector ORDER BY detector`
