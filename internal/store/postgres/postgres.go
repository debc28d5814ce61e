// Package postgres is the scaled-out store.Store on PostgreSQL through
// pgx/v5 (pgxpool). The schema matches store/sqlite; migrations run with
// goose under a session advisory lock, so several nodes may start at once.
//
// Text columns cannot hold NUL bytes or invalid UTF-8 in PostgreSQL; alert,
// quarantine and token text is made valid (NUL and invalid sequences become
// U+FFFD) before it is stored, and the alert RecordSignals returns is the one
// stored. Event fields and raw bytes keep every byte (store.EncodeFields
// escapes them).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/rampart-ids/rampart/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tunes the store. Zero values mean the defaults.
type Options struct {
	// Logger receives migration messages; nil discards them.
	Logger *slog.Logger
	// MaxConns bounds the pool (default: pgxpool's, max(4, CPUs)).
	MaxConns int32
	// Now is the wall clock for Created and quarantine times (default time.Now).
	Now func() time.Time
	// Audit writes audit records (package audit) in the same transaction as
	// alert creation, verdicts and token creation; the actor comes from
	// audit.WithActor on the context.
	Audit bool
}

// Store is a store.Store on PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool  *pgxpool.Pool
	log   *slog.Logger
	now   func() time.Time
	audit bool // Options.Audit
}

var (
	_ store.Store          = (*Store)(nil)
	_ store.VerdictHistory = (*Store)(nil)
)

// Open connects to dsn (a postgres:// URL or key=value string; a
// search_path parameter selects the schema) and migrates the schema.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The DSN may hold a password: do not echo it.
		return nil, errors.New("opening postgres store: malformed dsn")
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening postgres store on %s: %w", cfg.ConnConfig.Host, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("opening postgres store on %s: %w", cfg.ConnConfig.Host, err)
	}
	s := &Store{pool: pool, log: opts.Logger.With("component", "store/postgres"), now: opts.Now, audit: opts.Audit}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrating postgres store: %w", err)
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(locker))
	if err != nil {
		return err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return err
	}
	for _, r := range res {
		s.log.Info("schema migrated", "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// maxRetries bounds how often a transaction is retried after a deadlock or
// serialization failure (neither should happen with the lock order used,
// but a retry is cheap insurance).
const maxRetries = 3

// inTx runs fn in one transaction, retrying on deadlock or serialization failure.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	var err error
	for range maxRetries {
		err = pgx.BeginFunc(ctx, s.pool, fn)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || (pe.Code != "40P01" && pe.Code != "40001") {
			return err
		}
	}
	return err
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// pgText makes s storable in a text column: invalid UTF-8 and NUL become U+FFFD.
func pgText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func pgTexts(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = pgText(s)
	}
	return out
}

func utc(t time.Time) time.Time { return t.UTC() }
