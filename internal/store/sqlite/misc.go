package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/store"
)

func isUniqueViolation(err error) bool {
	var se *msqlite.Error
	return errors.As(err, &se) &&
		(se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

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
	err := s.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO quarantine (time, source, position, reason, raw, rec_key)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, q := range qs {
			if q.Time.IsZero() {
				q.Time = now
			}
			var key any // NULL: no identity, always kept
			if k := store.QuarantineKey(&q); k != "" {
				key = k
			}
			raw := q.Raw
			if len(raw) > store.MaxQuarantineRaw {
				raw = raw[:store.MaxQuarantineRaw]
			}
			if raw == nil {
				raw = []byte{}
			}
			if _, err := st.ExecContext(ctx, micros(q.Time), q.Source, q.Position, q.Reason, raw, key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("quarantining %d records: %w", len(qs), err)
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
	q := `SELECT id, time, source, position, reason, raw FROM quarantine`
	args := []any{}
	if reason != "" {
		q += ` WHERE reason = ?`
		args = append(args, reason)
	}
	q += ` ORDER BY time DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing quarantine: %w", err)
	}
	defer rows.Close()
	out := []store.Quarantined{}
	for rows.Next() {
		var (
			r  store.Quarantined
			tm int64
		)
		if err := rows.Scan(&r.ID, &tm, &r.Source, &r.Position, &r.Reason, &r.Raw); err != nil {
			return nil, fmt.Errorf("listing quarantine: %w", err)
		}
		r.Time = fromMicros(tm)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing quarantine: %w", err)
	}
	return out, nil
}

// CountQuarantine returns the number of quarantined records by reason.
func (s *Store) CountQuarantine(ctx context.Context) (map[string]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT reason, count(*) FROM quarantine GROUP BY reason`)
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
	err := s.r.QueryRowContext(ctx, `SELECT file_id, byte_offset FROM offsets WHERE key = ?`, key).Scan(&o.FileID, &o.Offset)
	if errors.Is(err, sql.ErrNoRows) {
		return o, fmt.Errorf("getting offset %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return o, fmt.Errorf("getting offset %s: %w", key, err)
	}
	return o, nil
}

// SetOffset saves the position for key, replacing an earlier one.
func (s *Store) SetOffset(ctx context.Context, key string, o store.Offset) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO offsets (key, file_id, byte_offset) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET file_id = excluded.file_id, byte_offset = excluded.byte_offset`,
			key, o.FileID, o.Offset)
		return err
	})
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (id, name, role, hash, created) VALUES (?, ?, ?, ?, ?)`,
			t.ID, t.Name, t.Role, t.Hash, micros(t.Created))
		if err != nil {
			return err
		}
		return s.auditOne(ctx, tx, audit.TokenCreated(ctx, t.ID, t.Name, t.Role))
	})
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("creating token %q: %w: a token with this id, name or hash exists", t.Name, store.ErrConflict)
		}
		return fmt.Errorf("creating token %q: %w", t.Name, err)
	}
	return nil
}

// TokenByHash returns the token with that hash, or store.ErrNotFound.
func (s *Store) TokenByHash(ctx context.Context, hash string) (store.Token, error) {
	var (
		t  store.Token
		tm int64
	)
	err := s.r.QueryRowContext(ctx, `SELECT id, name, role, hash, created FROM tokens WHERE hash = ?`, hash).
		Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &tm)
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("looking up token: %w", store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("looking up token: %w", err)
	}
	t.Created = fromMicros(tm)
	return t, nil
}

// CountTokens returns how many tokens exist.
func (s *Store) CountTokens(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM tokens`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting tokens: %w", err)
	}
	return n, nil
}
