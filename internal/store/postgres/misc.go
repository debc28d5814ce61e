package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/store"
)

// Limits of ListQuarantine.
const (
	defaultQuarantineLimit = 100
	maxQuarantineLimit     = 1000
)

// Quarantine stores records that could not be read, raw bytes truncated to
// store.MaxQuarantineRaw. A zero Time is set to now.
func (s *Store) Quarantine(ctx context.Context, qs []store.Quarantined) error {
	if len(qs) == 0 {
		return nil
	}
	now := s.now()
	n := len(qs)
	times, sources, positions, reasons, raws := make([]time.Time, n), make([]string, n), make([]string, n), make([]string, n), make([][]byte, n)
	keys := make([]*string, n) // nil: no identity, always kept
	for i, q := range qs {
		times[i] = q.Time
		if q.Time.IsZero() {
			times[i] = now
		}
		sources[i], positions[i], reasons[i] = pgText(q.Source), pgText(q.Position), pgText(q.Reason)
		if k := store.QuarantineKey(&qs[i]); k != "" {
			keys[i] = &k
		}
		raws[i] = q.Raw
		if len(raws[i]) > store.MaxQuarantineRaw {
			raws[i] = raws[i][:store.MaxQuarantineRaw]
		}
		if raws[i] == nil {
			raws[i] = []byte{}
		}
	}
	// WITH ORDINALITY keeps input order, so ids grow in the order given.
	_, err := s.pool.Exec(ctx, `INSERT INTO quarantine (time, source, position, reason, raw, rec_key)
		SELECT t, s, p, r, raw, k FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[])
			WITH ORDINALITY AS u(t, s, p, r, raw, k, n) ORDER BY n
		ON CONFLICT (rec_key) WHERE rec_key IS NOT NULL DO NOTHING`,
		times, sources, positions, reasons, raws, keys)
	if err != nil {
		return fmt.Errorf("quarantining %d records: %w", n, err)
	}
	return nil
}

// ListQuarantine returns the newest quarantined records, of one reason if
// reason is not empty.
func (s *Store) ListQuarantine(ctx context.Context, reason string, limit int) ([]store.Quarantined, error) {
	if limit <= 0 {
		limit = defaultQuarantineLimit
	}
	limit = min(limit, maxQuarantineLimit)
	rows, err := s.pool.Query(ctx, `SELECT id, time, source, position, reason, raw FROM quarantine
		WHERE $1 = '' OR reason = $1 ORDER BY time DESC, id DESC LIMIT $2`, pgText(reason), limit)
	if err != nil {
		return nil, fmt.Errorf("listing quarantine: %w", err)
	}
	defer rows.Close()
	out := []store.Quarantined{}
	for rows.Next() {
		var r store.Quarantined
		if err := rows.Scan(&r.ID, &r.Time, &r.Source, &r.Position, &r.Reason, &r.Raw); err != nil {
			return nil, fmt.Errorf("listing quarantine: %w", err)
		}
		r.Time = utc(r.Time)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing quarantine: %w", err)
	}
	return out, nil
}

// CountQuarantine returns the number of quarantined records by reason.
func (s *Store) CountQuarantine(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT reason, count(*) FROM quarantine GROUP BY reason`)
	if err != nil {
		return nil, fmt.Errorf("counting quarantine: %w", err)
	}
	defer rows.Close()
	out, err := store.CountByReason(rows)
	if err != nil {
		return nil, fmt.Errorf("counting quarantine: %w", err)
	}
	return out, nil
}

// GetOffset returns the saved position for key, or store.ErrNotFound.
func (s *Store) GetOffset(ctx context.Context, key string) (store.Offset, error) {
	var o store.Offset
	err := s.pool.QueryRow(ctx, `SELECT file_id, byte_offset FROM offsets WHERE key = $1`, pgText(key)).Scan(&o.FileID, &o.Offset)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, fmt.Errorf("getting offset %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return o, fmt.Errorf("getting offset %s: %w", key, err)
	}
	return o, nil
}

// SetOffset saves the position for key, replacing an earlier one.
func (s *Store) SetOffset(ctx context.Context, key string, o store.Offset) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO offsets (key, file_id, byte_offset) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET file_id = excluded.file_id, byte_offset = excluded.byte_offset`,
		pgText(key), pgText(o.FileID), o.Offset)
	if err != nil {
		return fmt.Errorf("setting offset %s: %w", key, err)
	}
	return nil
}

// CreateToken stores a token; a duplicate id, name or hash is store.ErrConflict.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	if t.ID == "" || t.Name == "" || t.Hash == "" {
		return fmt.Errorf("creating token %q: %w: id, name and hash are required", t.Name, store.ErrInvalid)
	}
	if t.Created.IsZero() {
		t.Created = s.now()
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO tokens (id, name, role, hash, created) VALUES ($1, $2, $3, $4, $5)`,
			pgText(t.ID), pgText(t.Name), pgText(t.Role), pgText(t.Hash), t.Created)
		if err != nil {
			return err
		}
		return s.auditOne(ctx, tx, audit.TokenCreated(ctx, t.ID, t.Name, t.Role))
	})
	if isUniqueViolation(err) {
		return fmt.Errorf("creating token %q: %w: a token with this id, name or hash exists", t.Name, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("creating token %q: %w", t.Name, err)
	}
	return nil
}

// TokenByHash returns the token with that hash, or store.ErrNotFound.
func (s *Store) TokenByHash(ctx context.Context, hash string) (store.Token, error) {
	var t store.Token
	err := s.pool.QueryRow(ctx, `SELECT id, name, role, hash, created FROM tokens WHERE hash = $1`, pgText(hash)).
		Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &t.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("looking up token: %w", store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("looking up token: %w", err)
	}
	t.Created = utc(t.Created)
	return t, nil
}

// CountTokens returns how many tokens exist.
func (s *Store) CountTokens(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM tokens`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting tokens: %w", err)
	}
	return n, nil
}
