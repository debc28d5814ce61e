package store

import (
	"context"
	"fmt"
	"time"
)

// Session is a console session as stored. Only the SHA-256 of its id is
// kept (IDHash), so the table cannot be replayed as cookies; TokenHash names
// the API token it was opened with (looked up again on every request).
type Session struct {
	IDHash    string
	TokenHash string
	CSRF      string
	Created   time.Time
	LastSeen  time.Time
}

// Validate reports a session missing a field the stores require.
func (s Session) Validate() error {
	if s.IDHash == "" || s.TokenHash == "" || s.CSRF == "" {
		return fmt.Errorf("%w: id hash, token hash and csrf are required", ErrInvalid)
	}
	return nil
}

// SessionStore keeps console sessions across restarts (an optional
// capability: without it sessions live in memory).
type SessionStore interface {
	// CreateSession stores s (IDHash unique: ErrConflict).
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session of idHash, or ErrNotFound.
	GetSession(ctx context.Context, idHash string) (Session, error)
	// TouchSession sets a session's LastSeen; a missing session is no error.
	TouchSession(ctx context.Context, idHash string, lastSeen time.Time) error
	// DeleteSession removes a session; a missing one is no error.
	DeleteSession(ctx context.Context, idHash string) error
	// DeleteSessionsBefore removes sessions last seen before idle or created
	// before created (both expired) and returns how many.
	DeleteSessionsBefore(ctx context.Context, idle, created time.Time) (int64, error)
}
