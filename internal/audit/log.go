package audit

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// AnchorFileName is the anchor file New uses beside the key file.
const AnchorFileName = "audit-anchor.json"

// Options configure a Log. Zero values mean the defaults.
type Options struct {
	// AnchorPath is where the newest checkpoint is copied outside the
	// database (default: AnchorFileName beside the key file).
	AnchorPath string
	// CheckpointEvery signs the head after this many records appended
	// through Record (default 100; records appended by stores inside their
	// own transactions are signed by Run's timer or Checkpoint).
	CheckpointEvery int
	// Now is the wall clock (default time.Now).
	Now func() time.Time
	// Logger receives checkpoint failures from Run; nil discards.
	Logger *slog.Logger
}

// Log is the audit log of one node: a Store plus the KeyRing that signs
// its checkpoints. It is safe for concurrent use.
type Log struct {
	st     Store
	keys   *KeyRing
	anchor string
	every  int
	now    func() time.Time
	log    *slog.Logger

	mu       sync.Mutex // serializes checkpoints
	appended int        // records appended through Record since the last checkpoint
	lastSeq  int64      // seq of the last checkpoint written by this Log
}

// New returns a Log over st signed with keys.
func New(st Store, keys *KeyRing, opts Options) *Log {
	if opts.AnchorPath == "" {
		opts.AnchorPath = filepath.Join(filepath.Dir(keys.path), AnchorFileName)
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = 100
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Log{st: st, keys: keys, anchor: opts.AnchorPath, every: opts.CheckpointEvery,
		now: opts.Now, log: opts.Logger.With("component", "audit")}
}

// OpenLog opens (creating on first use) the key file at keyPath and
// returns the Log of st signed with it: the one call a node needs.
func OpenLog(st Store, keyPath string, opts Options) (*Log, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	keys, err := OpenKeyRing(keyPath, opts.Now())
	if err != nil {
		return nil, err
	}
	return New(st, keys, opts), nil
}

// Record appends records outside any other transaction (rules_reloaded,
// model and policy changes made by the caller itself) and signs the head
// every CheckpointEvery records. It returns the sealed records.
func (l *Log) Record(ctx context.Context, recs ...Record) ([]Record, error) {
	out, err := l.st.Append(ctx, recs)
	if err != nil {
		return nil, fmt.Errorf("appending audit records: %w", err)
	}
	l.mu.Lock()
	l.appended += len(out)
	// The first record is always signed, so removing it cannot pass for retention.
	due := l.appended >= l.every || (len(out) > 0 && out[0].Seq == 1)
	l.mu.Unlock()
	if due {
		if _, err := l.Checkpoint(ctx); err != nil {
			return out, err
		}
	}
	return out, nil
}

// Checkpoint signs the current head, stores the checkpoint and writes the
// anchor file. When the head has not moved since this Log's last
// checkpoint, or the chain is empty, it does nothing and returns a zero
// Checkpoint.
func (l *Log) Checkpoint(ctx context.Context) (c Checkpoint, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	head, err := l.st.Head(ctx)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpointing audit chain: %w", err)
	}
	if head.Seq == 0 || head.Seq == l.lastSeq {
		l.appended = 0
		return Checkpoint{}, nil
	}
	c, err = l.keys.Sign(head, l.now())
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpointing audit chain: %w", err)
	}
	if err := l.st.AddCheckpoint(ctx, c); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpointing audit chain: %w", err)
	}
	// The database copy comes first: an anchor ahead of the database would
	// read as truncation after a crash between the two writes. Another
	// process (the CLI beside a server) may have anchored a newer head.
	prev, err := ReadAnchor(l.anchor)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpointing audit chain: %w", err)
	}
	if prev == nil || prev.Seq <= c.Seq {
		if err := WriteAnchor(l.anchor, c); err != nil {
			return Checkpoint{}, fmt.Errorf("checkpointing audit chain: %w", err)
		}
	}
	l.lastSeq, l.appended = c.Seq, 0
	return c, nil
}

// Run signs the head every interval until ctx is done, and once more on
// the way out. Failures are logged and retried at the next tick.
func (l *Log) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if _, err := l.Checkpoint(fctx); err != nil {
				l.log.Warn("final audit checkpoint failed", "err", err)
			}
			cancel()
			return
		case <-t.C:
			if _, err := l.Checkpoint(ctx); err != nil {
				l.log.Warn("audit checkpoint failed", "err", err)
			}
		}
	}
}

// RotateKey makes a new signing key, records the rotation in the chain and
// signs the head with the new key, so the rotation itself is vouched for.
func (l *Log) RotateKey(ctx context.Context, actor string) (string, error) {
	old := l.keys.ActiveKeyID()
	id, err := l.keys.Rotate(l.now())
	if err != nil {
		return "", err
	}
	_, err = l.st.Append(ctx, []Record{{Actor: actor, Action: ActionKeyRotated, SubjectKind: "audit_key", SubjectID: id,
		Explanation: fmt.Sprintf("audit signing key rotated from %s to %s", old, id)}})
	if err != nil {
		return id, fmt.Errorf("recording audit key rotation: %w", err)
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		return id, err
	}
	return id, nil
}

// Verify checks the whole chain with the ring's public keys and the anchor.
func (l *Log) Verify(ctx context.Context) (Report, error) {
	anchor, err := ReadAnchor(l.anchor)
	if err != nil {
		return Report{}, err
	}
	return Verify(ctx, l.st, l.keys.Public(), VerifyOptions{Anchor: anchor})
}

// Prune drops records before seq for retention, cutting only at a
// checkpoint (the newest one at or below seq): it first appends and signs
// an audit_pruned record naming the cut, then deletes. It returns how many
// records were removed.
func (l *Log) Prune(ctx context.Context, seq int64, actor string) (int64, error) {
	cps, err := l.st.Checkpoints(ctx)
	if err != nil {
		return 0, fmt.Errorf("pruning audit chain: %w", err)
	}
	cut := int64(0)
	for _, c := range cps {
		if c.Seq <= seq && c.Seq > cut {
			cut = c.Seq
		}
	}
	if cut <= 1 {
		return 0, nil
	}
	_, err = l.st.Append(ctx, []Record{{Actor: actor, Action: ActionPruned, SubjectKind: "audit_chain",
		SubjectID: strconv.FormatInt(cut, 10), Explanation: fmt.Sprintf("retention removes audit records before seq %d", cut)}})
	if err != nil {
		return 0, fmt.Errorf("pruning audit chain: %w", err)
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		return 0, fmt.Errorf("pruning audit chain: %w", err)
	}
	n, err := l.st.DeleteBefore(ctx, cut)
	if err != nil {
		return 0, fmt.Errorf("pruning audit chain: %w", err)
	}
	return n, nil
}

// Store returns the underlying store.
func (l *Log) Store() Store { return l.st }

// Keys returns the key ring.
func (l *Log) Keys() *KeyRing { return l.keys }
