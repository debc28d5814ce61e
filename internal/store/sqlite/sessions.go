package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-ids/rampart/internal/store"
)

var _ store.SessionStore = (*Store)(nil)

// CreateSession stores a console session.
func (s *Store) CreateSession(ctx context.Context, x store.Session) error {
	if err := x.Validate(); err != nil {
		return fmt.Errorf("creating session: %w", err)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_hash, token_hash, csrf, created, last_seen) VALUES (?, ?, ?, ?, ?)`,
			x.IDHash, x.TokenHash, x.CSRF, micros(x.Created), micros(x.LastSeen))
		return err
	})
	if isUniqueViolation(err) {
		return fmt.Errorf("creating session: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("creating session: %w", err)
	}
	return nil
}

// GetSession returns the session of idHash.
func (s *Store) GetSession(ctx context.Context, idHash string) (store.Session, error) {
	x := store.Session{IDHash: idHash}
	var created, seen int64
	err := s.r.QueryRowContext(ctx, `SELECT token_hash, csrf, created, last_seen FROM sessions WHERE id_hash = ?`, idHash).
		Scan(&x.TokenHash, &x.CSRF, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return x, fmt.Errorf("getting session: %w", store.ErrNotFound)
	}
	if err != nil {
		return x, fmt.Errorf("getting session: %w", err)
	}
	x.Created, x.LastSeen = fromMicros(created), fromMicros(seen)
	return x, nil
}

// TouchSession sets a session's last use.
func (s *Store) TouchSession(ctx context.Context, idHash string, lastSeen time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE sessions SET last_seen = ? WHERE id_hash = ?`, micros(lastSeen), idHash)
		return err
	})
	if err != nil {
		return fmt.Errorf("touching session: %w", err)
	}
	return nil
}

// DeleteSession removes a session.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting session: %w", err)
	}
	return nil
}

// DeleteSessionsBefore removes expired sessions.
func (s *Store) DeleteSessionsBefore(ctx context.Context, idle, created time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE last_seen < ? OR created < ?`, micros(idle), micros(created))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return n, fmt.Errorf("deleting expired sessions: %w", err)
	}
	return n, nil
}
