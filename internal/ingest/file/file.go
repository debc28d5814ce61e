// Package file is the file input: it reads files and glob patterns line by
// line, follows them as they grow and rotate, and remembers how far it got
// through a store.OffsetStore so that a restart loses no line.
//
// Delivery is at-least-once: an offset is saved only after the pipeline
// calls Record.Commit for every record before it, so a crash may re-read a
// few lines (event ids derive from source, offset and bytes, so a re-read
// line yields the same event id and no duplicate alert).
//
// File identity is device+inode plus a hash of the first 512 bytes, so a
// new file reusing an inode is not read from the old file's offset.
//
// Rotation: rename+create is seen as the path pointing at a new device/inode;
// the old file is read to its end before the new one is opened.
// copytruncate is seen as the file shrinking below the read offset; reading
// restarts at 0. Files are polled (no inotify): PollInterval bounds latency.
//
// Lines longer than MaxRecordBytes are passed on with Format
// ingest.FormatOversize and only their first MaxRecordBytes bytes, so the
// pipeline quarantines them as "too_large".
package file

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rampart-ids/rampart/internal/ingest"
	"github.com/rampart-ids/rampart/internal/store"
)

// Config configures a file input. Zero values get the defaults noted.
type Config struct {
	// Name is the input's name (default "file").
	Name string
	// Paths are files or glob patterns (filepath.Match syntax). Patterns are
	// re-evaluated every GlobInterval to pick up new files.
	Paths []string
	// Format is the format hint for every record ("" = auto-detect).
	Format string
	// MaxRecordBytes bounds one line (default 1 MiB); longer lines are
	// passed truncated with Format ingest.FormatOversize.
	MaxRecordBytes int
	// PollInterval is how often idle files are checked for new data and
	// rotation (default 250ms).
	PollInterval time.Duration
	// GlobInterval is how often patterns are re-evaluated (default 10s).
	GlobInterval time.Duration
	// SaveInterval is how often committed offsets are saved (default 1s).
	// Negative: only by SaveOffsets, never on a timer nor when Run ends (a
	// checkpointer saves them with the detector state they match, so the
	// stored offsets never run ahead of it).
	SaveInterval time.Duration
	// Once reads every matched file to its end and returns (replay),
	// instead of following.
	Once bool
	// StartAtEnd makes files without a saved offset start at their end
	// instead of their beginning.
	StartAtEnd bool
	// BatchSize is the most records handed to the sink at once (default 512).
	BatchSize int
	// MaxFiles bounds the files followed at once (default 1024).
	MaxFiles int
	// Now is the wall clock for Record.Received (default time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Name == "" {
		c.Name = "file"
	}
	if c.MaxRecordBytes <= 0 {
		c.MaxRecordBytes = 1 << 20
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 250 * time.Millisecond
	}
	if c.GlobInterval <= 0 {
		c.GlobInterval = 10 * time.Second
	}
	if c.SaveInterval == 0 {
		c.SaveInterval = time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 512
	}
	if c.MaxFiles <= 0 {
		c.MaxFiles = 1024
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate checks the configuration without I/O.
func (c Config) Validate() error {
	var errs []error
	if len(c.Paths) == 0 {
		errs = append(errs, errors.New("paths: at least one path is required"))
	}
	for i, p := range c.Paths {
		if p == "" {
			errs = append(errs, fmt.Errorf("paths[%d]: empty", i))
			continue
		}
		if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("paths[%d]: bad pattern %q: %w", i, p, err))
		}
		if abs, err := filepath.Abs(p); err == nil && forbidden(abs) {
			errs = append(errs, fmt.Errorf("paths[%d]: %s is under /proc, /sys or /dev", i, p))
		}
	}
	if c.MaxRecordBytes < 0 || c.BatchSize < 0 || c.MaxFiles < 0 {
		errs = append(errs, errors.New("limits must not be negative"))
	}
	return errors.Join(errs...)
}

// errSameFile means a match is a file already followed under another name.
var errSameFile = errors.New("same file already followed")

// ErrUnsafePath means a path resolves into /proc, /sys or /dev or is not a regular file.
var ErrUnsafePath = errors.New("unsafe path")

// Input is the file input. It implements ingest.Input and ingest.StatsProvider.
type Input struct {
	cfg     Config
	offsets store.OffsetStore
	log     *slog.Logger

	counts ingest.Counters

	// Owned by Run's goroutine.
	tails   map[string]*tailer
	refused map[string]string // path → reason, logged once
	seen    map[string]int64  // file id → offset read so far, for files renamed under another matched name

	cmMu       sync.Mutex
	committers map[string]*committer // key → committer, shared across a path's rotations
}

var (
	_ ingest.Input         = (*Input)(nil)
	_ ingest.StatsProvider = (*Input)(nil)
)

// New returns a file input. offsets may be nil (nothing remembered).
func New(cfg Config, offsets store.OffsetStore, log *slog.Logger) (*Input, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuring file input %s: %w", cfg.Name, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Input{
		cfg: cfg, offsets: offsets,
		log:        log.With("component", "ingest/file", "input", cfg.Name),
		tails:      map[string]*tailer{},
		refused:    map[string]string{},
		seen:       map[string]int64{},
		committers: map[string]*committer{},
	}, nil
}

// Name returns the input's name.
func (in *Input) Name() string { return in.cfg.Name }

// Stats returns the input's counters.
func (in *Input) Stats() ingest.Stats { return in.counts.Stats() }

// Source returns the Record.Source of lines read from path (as matched).
func Source(path string) string { return "file:" + path }

// tailer follows one path.
type tailer struct {
	path   string // absolute, as matched
	source string
	f      *os.File
	id     string // "dev:ino" of f
	fid    string // id plus a fingerprint of the first bytes: the saved FileID
	fpLen  int64  // bytes covered by the fingerprint
	lr     *ingest.LineReader
	cm     *committer
	atEOF  bool
	// failed is set when a read failed; the file is reopened at the next scan.
	failed bool
	// checked is when rotation was last checked; gone when the path was
	// first seen missing (zero while it exists).
	checked, gone time.Time
}

// Run reads until ctx is done (or, with Once, until every file is read).
func (in *Input) Run(ctx context.Context, sink ingest.Sink) error {
	defer in.closeAll()
	defer in.finalSave(ctx)
	in.scan(ctx)
	if in.cfg.Once && len(in.tails) == 0 {
		return fmt.Errorf("reading files: no file matches %v", in.cfg.Paths)
	}
	lastGlob, lastSave := in.cfg.Now(), in.cfg.Now()
	timer := time.NewTimer(in.cfg.PollInterval)
	defer timer.Stop()
	for {
		progressed := false
		for _, t := range in.sortedTails() {
			n, err := in.pump(ctx, t, sink)
			if t.failed {
				in.drop(t)
				continue
			}
			if err == nil && t.atEOF && !in.cfg.Once {
				if now := in.cfg.Now(); now.Sub(t.checked) >= in.cfg.PollInterval {
					t.checked = now
					err = in.checkRotation(ctx, t, sink)
				}
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			progressed = progressed || n > 0
		}
		if in.cfg.Once {
			if !progressed {
				return in.finishOnce(ctx, sink)
			}
			continue
		}
		now := in.cfg.Now()
		if in.cfg.SaveInterval > 0 && now.Sub(lastSave) >= in.cfg.SaveInterval {
			in.save(ctx)
			lastSave = now
		}
		if now.Sub(lastGlob) >= in.cfg.GlobInterval {
			in.scan(ctx)
			lastGlob = now
		}
		if progressed {
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		timer.Reset(in.cfg.PollInterval)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
	}
}

func (in *Input) sortedTails() []*tailer {
	out := make([]*tailer, 0, len(in.tails))
	for _, t := range in.tails {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// finishOnce passes on the partial last lines and returns.
func (in *Input) finishOnce(ctx context.Context, sink ingest.Sink) error {
	for _, t := range in.sortedTails() {
		if ln, ok := t.lr.Flush(); ok {
			if err := sink.Submit(ctx, []ingest.Record{in.record(t, ln)}); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("submitting records from %s: %w", t.path, err)
			}
		}
	}
	return nil
}

// pump reads up to one batch from t and submits it.
func (in *Input) pump(ctx context.Context, t *tailer, sink ingest.Sink) (int, error) {
	batch := make([]ingest.Record, 0, 16)
	t.atEOF = false
	if t.fpLen < fingerprintLen && t.lr.ReadOffset() > t.fpLen {
		t.fid, t.fpLen = fingerprint(t.f, t.id)
	}
	for len(batch) < in.cfg.BatchSize {
		ln, err := t.lr.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				in.log.Warn("read failed; reopening at next scan", "path", t.path, "err", err)
				t.failed = true
			}
			t.atEOF = true
			break
		}
		batch = append(batch, in.record(t, ln))
	}
	if len(batch) == 0 {
		return 0, nil
	}
	if err := sink.Submit(ctx, batch); err != nil {
		return 0, fmt.Errorf("submitting records from %s: %w", t.path, err)
	}
	return len(batch), nil
}

func (in *Input) record(t *tailer, ln ingest.Line) ingest.Record {
	now := in.cfg.Now()
	rec := ingest.Record{
		Source:   t.source,
		Position: strconv.FormatInt(ln.Offset, 10),
		Data:     append([]byte(nil), ln.Data...),
		Received: now,
		Format:   in.cfg.Format,
		Commit:   t.cm.add(t.fid, ln.End),
	}
	if ln.Oversize {
		rec.Format = ingest.FormatOversize
	}
	in.counts.Read(int(ln.End-ln.Offset), ln.Oversize, now)
	return rec
}

// checkRotation looks at what t.path names now and switches files when it
// was rotated.
func (in *Input) checkRotation(ctx context.Context, t *tailer, sink ingest.Sink) error {
	st, err := os.Stat(t.path)
	if err != nil {
		// Renamed and not yet recreated, or deleted: keep the open file for
		// a while, a writer may still append to it; then let it go so
		// date-named files that are deleted do not pile up.
		now := in.cfg.Now()
		if t.gone.IsZero() {
			t.gone = now
		} else if now.Sub(t.gone) >= in.cfg.GlobInterval {
			return in.retire(ctx, t, sink)
		}
		return nil
	}
	t.gone = time.Time{}
	if id := fileID(st); id != t.id {
		// Rename+create: finish the old file first.
		if err := in.drain(ctx, t, sink); err != nil {
			return err
		}
		in.log.Info("file rotated", "path", t.path, "old_id", t.id, "new_id", id)
		if err := in.open(ctx, t, 0, false); err != nil {
			in.log.Warn("reopen failed", "path", t.path, "err", err)
			delete(in.tails, t.path)
		}
		return nil
	}
	if st.Size() < t.lr.ReadOffset() {
		in.log.Info("file truncated", "path", t.path, "size", st.Size(), "offset", t.lr.ReadOffset())
		if _, err := t.f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("rewinding %s: %w", t.path, err)
		}
		t.lr.Reset(t.f, 0)
	}
	return nil
}

// drain reads t's open file to its end, passes on a last line without
// newline, and closes it.
func (in *Input) drain(ctx context.Context, t *tailer, sink ingest.Sink) error {
	for {
		n, err := in.pump(ctx, t, sink)
		if err != nil {
			return err
		}
		if n == 0 && t.atEOF {
			break
		}
	}
	if ln, ok := t.lr.Flush(); ok {
		if err := sink.Submit(ctx, []ingest.Record{in.record(t, ln)}); err != nil {
			return fmt.Errorf("submitting records from %s: %w", t.path, err)
		}
	}
	if len(in.seen) >= 4096 {
		clear(in.seen)
	}
	in.seen[t.id] = t.lr.ReadOffset()
	t.f.Close()
	return nil
}

// drop stops following t after a read error; the next scan reopens the
// path and resumes after the last line passed on.
func (in *Input) drop(t *tailer) {
	if len(in.seen) >= 4096 {
		clear(in.seen)
	}
	in.seen[t.id] = t.lr.Consumed()
	if t.f != nil {
		t.f.Close()
	}
	delete(in.tails, t.path)
}

// retire stops following a path that no longer exists.
func (in *Input) retire(ctx context.Context, t *tailer, sink ingest.Sink) error {
	if err := in.drain(ctx, t, sink); err != nil {
		return err
	}
	in.log.Info("file gone", "path", t.path)
	t.f = nil
	delete(in.tails, t.path)
	return nil
}

// scan evaluates the patterns and starts following new matches.
func (in *Input) scan(ctx context.Context) {
	for _, pat := range in.cfg.Paths {
		matches, err := filepath.Glob(pat)
		if err != nil {
			in.log.Warn("bad pattern", "pattern", pat, "err", err)
			continue
		}
		for _, m := range matches {
			abs, err := filepath.Abs(m)
			if err != nil {
				continue
			}
			if _, ok := in.tails[abs]; ok {
				continue
			}
			if len(in.tails) >= in.cfg.MaxFiles {
				in.refuse(abs, "max_files reached")
				continue
			}
			t := &tailer{path: abs, source: Source(abs), cm: in.committer(Source(abs))}
			if err := in.open(ctx, t, -1, true); err != nil {
				if errors.Is(err, errSameFile) {
					// Usually a rotated file not yet noticed as rotated; retried next scan.
					in.log.Debug("file skipped", "path", abs, "reason", err.Error())
					continue
				}
				in.refuse(abs, err.Error())
				continue
			}
			delete(in.refused, abs)
			in.tails[abs] = t
		}
	}
}

func (in *Input) refuse(path, reason string) {
	if in.refused[path] == reason {
		return
	}
	in.refused[path] = reason
	in.log.Warn("file skipped", "path", path, "reason", reason)
}

// open opens t.path and positions it: at start, or (start < 0) from the
// saved offset when the file identity matches.
func (in *Input) open(ctx context.Context, t *tailer, start int64, skipFollowed bool) error {
	f, st, err := openRegular(t.path)
	if err != nil {
		return err
	}
	id := fileID(st)
	if skipFollowed {
		for _, o := range in.tails {
			if o.id == id {
				f.Close()
				return fmt.Errorf("%w as %s", errSameFile, o.path)
			}
		}
	}
	if start < 0 {
		start = in.startOffset(ctx, t.source, f, id, st.Size())
	}
	if start > 0 {
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			f.Close()
			return fmt.Errorf("seeking %s: %w", t.path, err)
		}
	}
	t.f, t.id = f, id
	t.fid, t.fpLen = fingerprint(f, id)
	if t.lr == nil {
		t.lr = ingest.NewLineReader(f, start, in.cfg.MaxRecordBytes)
	} else {
		t.lr.Reset(f, start)
	}
	in.log.Debug("file opened", "path", t.path, "id", id, "offset", start)
	return nil
}

func (in *Input) startOffset(ctx context.Context, source string, f *os.File, id string, size int64) int64 {
	if off, ok := in.seen[id]; ok && off <= size {
		return off
	}
	if in.offsets != nil {
		for _, key := range []string{source, idKey(id)} {
			o, err := in.offsets.GetOffset(ctx, key)
			if err != nil {
				if !errors.Is(err, store.ErrNotFound) {
					in.log.Warn("offset lookup failed", "key", key, "err", err)
				}
				continue
			}
			if o.Offset <= size && sameFile(o.FileID, f, id) {
				return o.Offset
			}
		}
	}
	if in.cfg.StartAtEnd {
		return size
	}
	return 0
}

// idKey is the offset key by file identity, so a file renamed to another
// matched name (auth.log → auth.log.1 under auth.log*) resumes where it was.
func idKey(id string) string { return "file-id:" + id }

// offsetKeys are the keys an offset of committer key k is saved under: the
// source, and the identity of the file it is in.
func offsetKeys(k string, o store.Offset) [2]string { return [2]string{k, idKey(devIno(o.FileID))} }

func (in *Input) committer(key string) *committer {
	in.cmMu.Lock()
	defer in.cmMu.Unlock()
	c, ok := in.committers[key]
	if !ok {
		c = &committer{}
		in.committers[key] = c
	}
	return c
}

// SaveOffsets saves every committed offset not yet saved. Run saves
// periodically and when it returns; call SaveOffsets again after the
// pipeline has drained, so commits that arrive after Run returned are kept.
func (in *Input) SaveOffsets(ctx context.Context) error {
	if in.offsets == nil {
		return nil
	}
	in.cmMu.Lock()
	keys := make([]string, 0, len(in.committers))
	for k := range in.committers {
		keys = append(keys, k)
	}
	in.cmMu.Unlock()
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		c := in.committer(k)
		o, ok := c.dirty()
		if !ok {
			continue
		}
		var err error
		for _, key := range offsetKeys(k, o) {
			if err = in.offsets.SetOffset(ctx, key, o); err != nil {
				break
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("saving offset of %s: %w", k, err))
			continue
		}
		c.saved(o)
	}
	return errors.Join(errs...)
}

// Committed returns every committed offset, saved or not, under the keys
// SaveOffsets saves it by (the source, and the file identity). Called where
// commits are made (the pipeline's writer), it is the offsets of exactly the
// records committed so far: what a checkpoint records with its state.
func (in *Input) Committed() map[string]store.Offset {
	in.cmMu.Lock()
	cms := make(map[string]*committer, len(in.committers))
	for k, c := range in.committers {
		cms[k] = c
	}
	in.cmMu.Unlock()
	out := make(map[string]store.Offset, 2*len(cms))
	for k, c := range cms {
		if o, ok := c.current(); ok {
			for _, key := range offsetKeys(k, o) {
				out[key] = o
			}
		}
	}
	return out
}

func (in *Input) save(ctx context.Context) {
	if err := in.SaveOffsets(ctx); err != nil {
		in.log.Warn("offset save failed", "err", err)
	}
}

func (in *Input) finalSave(ctx context.Context) {
	if in.cfg.SaveInterval < 0 {
		return // the checkpointer saves them
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	in.save(sctx)
}

func (in *Input) closeAll() {
	for _, t := range in.tails {
		if t.f != nil {
			t.f.Close()
		}
	}
	clear(in.tails)
}

// forbidden reports whether p is in a pseudo file system we never read.
func forbidden(p string) bool {
	for _, root := range []string{"/proc", "/sys", "/dev"} {
		if p == root || strings.HasPrefix(p, root+"/") {
			return true
		}
	}
	return false
}

// openRegular opens path read-only after resolving symlinks, refusing
// pseudo file systems and anything but a regular file (a FIFO or device
// could block or never end).
func openRegular(path string) (*os.File, fs.FileInfo, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, nil, fmt.Errorf("resolving %s: %w", path, err)
	}
	if real, err = filepath.Abs(real); err != nil {
		return nil, nil, fmt.Errorf("resolving %s: %w", path, err)
	}
	if forbidden(real) {
		return nil, nil, fmt.Errorf("%w: %s resolves to %s", ErrUnsafePath, path, real)
	}
	// O_NONBLOCK so that a FIFO swapped in after EvalSymlinks cannot block open.
	f, err := os.OpenFile(real, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("inspecting %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%w: %s is not a regular file (%s)", ErrUnsafePath, path, st.Mode().Type())
	}
	return f, st, nil
}

// fingerprintLen is how many leading bytes identify a file's content, so
// a new file that reuses a deleted file's inode is not read from the old
// file's offset.
const fingerprintLen = 512

// fingerprint returns the FileID of f: "dev:ino/len:hash" over its first
// (up to fingerprintLen) bytes, and how many bytes that covers.
func fingerprint(f *os.File, id string) (string, int64) {
	buf := make([]byte, fingerprintLen)
	n, _ := f.ReadAt(buf, 0)
	if n == 0 {
		return id, 0
	}
	sum := sha256.Sum256(buf[:n])
	return id + "/" + strconv.Itoa(n) + ":" + hex.EncodeToString(sum[:8]), int64(n)
}

// sameFile reports whether the saved FileID names the open file f (device
// and inode id): the inode must match and, if a fingerprint was saved, the
// same leading bytes must hash the same.
func sameFile(saved string, f *os.File, id string) bool {
	if devIno(saved) != id {
		return false
	}
	_, fp, ok := strings.Cut(saved, "/")
	if !ok {
		return true
	}
	nStr, _, _ := strings.Cut(fp, ":")
	n, err := strconv.Atoi(nStr)
	if err != nil || n <= 0 || n > fingerprintLen {
		return false
	}
	buf := make([]byte, n)
	if got, _ := f.ReadAt(buf, 0); got != n {
		return false
	}
	sum := sha256.Sum256(buf)
	return saved == id+"/"+nStr+":"+hex.EncodeToString(sum[:8])
}

// devIno is the "dev:ino" part of a FileID.
func devIno(fileID string) string {
	d, _, _ := strings.Cut(fileID, "/")
	return d
}

// fileID is the file's identity: device and inode.
func fileID(st fs.FileInfo) string {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return strconv.FormatUint(uint64(s.Dev), 10) + ":" + strconv.FormatUint(s.Ino, 10)
	}
	return ""
}
