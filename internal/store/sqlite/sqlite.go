// Package sqlite is the embedded store.Store: one SQLite database file
// (dir/rampart.db) through modernc.org/sqlite, pure Go.
//
// SQLite allows one writer at a time, so all writes go through a pool of
// exactly one connection whose transactions start with BEGIN IMMEDIATE
// (_txlock=immediate): writers queue in Go instead of failing with
// SQLITE_BUSY on a lock upgrade. Reads use a separate pool and, in WAL mode,
// never block on the writer. Each write method is one transaction (an
// AppendEvents that fills the staged keys commits their merge in a second
// one; the purges commit a few chunks at a time).
//
// Events are stored a write batch per row, compressed (chunk.go, events.go,
// staging.go).
//
// Checkpoints (copying WAL pages back into the database file) run on their
// own connection in a background goroutine, not inside the writer's
// commits: on a bulk event load they were a quarter of the writer's CPU,
// and the writer is the one serial stage of ingest.
//
// Durability: WAL with synchronous=NORMAL. A commit survives a crash of the
// process; on power loss the last commits may be lost, but never out of
// order, so stored input offsets never run ahead of the events they cover.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/rampart-ids/rampart/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// FileName is the database file Open creates inside its directory.
const FileName = "rampart.db"

// Options tunes the store. Zero values mean the defaults.
type Options struct {
	// Logger receives migration and maintenance messages; nil discards them.
	Logger *slog.Logger
	// ReadConns bounds the read pool (default 4).
	ReadConns int
	// BusyTimeout is how long a connection waits for a lock held by another
	// process before failing (default 5s).
	BusyTimeout time.Duration
	// Now is the wall clock for Created and quarantine times (default time.Now).
	Now func() time.Time
	// Audit writes audit records (package audit) in the same transaction as
	// alert creation, verdicts and token creation; the actor comes from
	// audit.WithActor on the context.
	Audit bool
	// CheckpointInterval is how often the background checkpointer copies
	// committed WAL pages into the database file (default 1s: a page rewritten
	// by several commits in between is copied once).
	CheckpointInterval time.Duration
}

// walRestartFrames is the WAL size (in frames, about 4 KiB each) past which
// the checkpointer waits for the writer to let it rewind the WAL file, so
// the file stays bounded (about 256 MiB) under a writer that never pauses.
const walRestartFrames = 65536

// Store is a store.Store on SQLite. It is safe for concurrent use.
type Store struct {
	w   *sql.DB // exactly one connection: the single writer
	r   *sql.DB // readers
	log *slog.Logger
	now func() time.Time
	// prepared holds write statements prepared on the writer connection.
	prepared map[string]*sql.Stmt
	audit    bool // Options.Audit

	// evMu serializes the event writes (append, purge, merge) with the
	// updates of staged they make after committing.
	evMu   sync.Mutex
	staged *staging

	ckpt     *sql.DB // one connection for background checkpoints
	ckptStop chan struct{}
	ckptDone chan struct{}
}

var (
	_ store.Store          = (*Store)(nil)
	_ store.VerdictHistory = (*Store)(nil)
)

// Open opens (creating if needed) dir/rampart.db and migrates it to the
// current schema.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 4
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = time.Second
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("opening sqlite store: %w", err)
	}
	path := filepath.Join(dir, FileName)
	s := &Store{log: opts.Logger.With("component", "store/sqlite"), now: opts.Now, audit: opts.Audit}
	var err error
	if s.w, err = openDB(ctx, path, opts.BusyTimeout, true); err != nil {
		return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxIdleTime(0)
	// The database holds raw logs (personal data) and token hashes: owner
	// only. SQLite gives the -wal and -shm files the same mode.
	if err := os.Chmod(path, 0o600); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
	}
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
	}
	if mode != "wal" {
		// e.g. a network file system without shared memory: still correct, but readers block the writer.
		s.log.Warn("sqlite is not in WAL mode", "journal_mode", mode, "path", path)
	}
	if err := s.migrate(ctx); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("migrating sqlite store %s: %w", path, err)
	}
	if s.staged, err = loadStaging(ctx, s.w); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("opening sqlite store %s: loading staged event keys: %w", path, err)
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
	}
	if s.r, err = openDB(ctx, path, opts.BusyTimeout, false); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
	}
	s.r.SetMaxOpenConns(opts.ReadConns)
	s.r.SetMaxIdleConns(opts.ReadConns)
	if err := s.r.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
	}
	if s.ckpt, err = openDB(ctx, path, opts.BusyTimeout, false); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
	}
	s.ckpt.SetMaxOpenConns(1)
	s.ckpt.SetMaxIdleConns(1)
	s.ckpt.SetConnMaxIdleTime(0)
	s.ckptStop, s.ckptDone = make(chan struct{}), make(chan struct{})
	go s.checkpointLoop(opts.CheckpointInterval)
	return s, nil
}

// checkpointLoop copies committed WAL frames into the database file while
// the writer goes on appending (PASSIVE never blocks it). When the WAL has
// grown past walRestartFrames it waits for the writer instead (RESTART), so
// the next commit rewinds the WAL file.
func (s *Store) checkpointLoop(every time.Duration) {
	defer close(s.ckptDone)
	t := time.NewTicker(every)
	defer t.Stop()
	ctx := context.Background()
	mode := "PASSIVE"
	for {
		select {
		case <-s.ckptStop:
			return
		case <-t.C:
		}
		logFrames, _, err := s.checkpoint(ctx, mode)
		if err != nil {
			s.log.Warn("wal checkpoint failed", "mode", mode, "err", err)
			continue
		}
		mode = "PASSIVE"
		if logFrames > walRestartFrames {
			mode = "RESTART"
		}
	}
}

// checkpoint runs one checkpoint on the checkpointer connection and returns
// the WAL's size and how much of it is now in the database file, in frames.
func (s *Store) checkpoint(ctx context.Context, mode string) (logFrames, done int, err error) {
	var busy int
	err = s.ckpt.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &logFrames, &done)
	return logFrames, done, err
}

func openDB(ctx context.Context, path string, busy time.Duration, writer bool) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	// NORMAL is durable against a crash of the process; on power loss WAL
	// drops only a suffix of commits, so offsets never get ahead of events.
	q.Add("_pragma", "synchronous(NORMAL)")
	if writer {
		q.Set("_txlock", "immediate")
		// Checkpoints run in the background (checkpointLoop); this is only a
		// backstop should that loop fall far behind. A larger page cache:
		// bulk event writes spend most of their time there.
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", 2*walRestartFrames))
		q.Add("_pragma", "cache_size(-65536)")
	} else {
		// Also the checkpointer: a checkpoint is not a write in query_only's sense.
		q.Add("_pragma", "query_only(1)")
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (s *Store) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.w, fsys, goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(goose.NewGoMigration(5, &goose.GoFunc{RunTx: s.moveLegacyEvents}, nil),
			goose.NewGoMigration(8, &goose.GoFunc{RunTx: ensureChunkSeq}, nil)))
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

// prepare readies the write path's statements on the single writer
// connection. It must run outside any transaction: preparing on the pool
// while a transaction holds its only connection would wait forever.
func (s *Store) prepare(ctx context.Context) error {
	s.prepared = map[string]*sql.Stmt{}
	for _, q := range []string{qInsertChunk, qSelectAlert, qInsertAlert, qInsertEntity, qInsertSignal, qInsertEvidence, qUpdateFolded} {
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("preparing %.40q: %w", q, err)
		}
		s.prepared[q] = st
	}
	return nil
}

// stmt returns q as a statement of tx, reusing the statement prepared on
// the writer connection. A query that was not prepared is a programming
// error: it fails at its first use (in tests) rather than re-parsing.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	st, ok := s.prepared[q]
	if !ok {
		panic("sqlite: statement not prepared: " + q)
	}
	return tx.StmtContext(ctx, st)
}

// Close closes both pools.
func (s *Store) Close() error {
	var errs []error
	if s.ckptStop != nil {
		close(s.ckptStop)
		<-s.ckptDone
	}
	if s.ckpt != nil {
		errs = append(errs, s.ckpt.Close())
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	for _, st := range s.prepared {
		errs = append(errs, st.Close())
	}
	if s.w != nil {
		// Fold the WAL back so the file is self-contained after a clean shutdown.
		if _, err := s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			s.log.Warn("wal checkpoint failed", "err", err)
		}
		errs = append(errs, s.w.Close())
	}
	return errors.Join(errs...)
}

// write runs fn in one write transaction.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
