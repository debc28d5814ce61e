package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-ids/rampart/internal/store"
)

var _ store.SessionStore = (*Store)(nil)

// CreateSession stores a console session.
func (s *Store) CreateSession(ctx context.Context, x store.Session) error {
	if err := x.Validate(); err != nil {
		return fmt.Errorf("creating session: %w", err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (id_hash, token_hash, csrf, created, last_seen) VALUES ($1, $2, $3, $4, $5)`,
		pgText(x.IDHash), pgText(x.TokenHash), pgText(x.CSRF), x.Created, x.LastSeen)
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
	err := s.pool.QueryRow(ctx, `SELECT token_hash, csrf, created, last_seen FROM sessions WHERE id_hash = $1`, pgText(idHash)).
		Scan(&x.TokenHash, &x.CSRF, &x.Created, &x.LastSeen)
	if errors.Is(err, pgx.ErrNoRows) {
		return x, fmt.Errorf("getting session: %w", store.ErrNotFound)
	}
	if err != nil {
		return x, fmt.Errorf("getting session: %w", err)
	}
	x.Created, x.LastSeen = utc(x.Created), utc(x.LastSeen)
	return x, nil
}

// TouchSession sets a session's last use.
func (s *Store) TouchSession(ctx context.Context, idHash string, lastSeen time.Time) error {
	if _, err := s.pool.Exec(ctx, `UPDATE sessions SET last_seen = $1 WHERE id_hash = $2`, lastSeen, pgText(idHash)); err != nil {
		return fmt.Errorf("touching session: %w", err)
	}
	return nil
}

// DeleteSession removes a session.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, pgText(idHash)); err != nil {
		return fmt.Errorf("deleting session: %w", err)
	}
	return nil
}

// DeleteSessionsBefore removes expired sessions.
func (s *Store) DeleteSessionsBefore(ctx context.Context, idle, created time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE last_seen < $1 OR created < $2`, idle, created)
	if err != nil {
		return 0, fmt.Errorf("deleting expired sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}
