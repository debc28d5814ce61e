package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/detect/anomaly"
	"github.com/rampart-ids/rampart/internal/ingest/file"
	"github.com/rampart-ids/rampart/internal/pipeline"
	"github.com/rampart-ids/rampart/internal/store"
)

// Checkpoints keeps aligned checkpoints of the stateful detectors (ML
// baselines, threshold buckets, flow and template state) with the file
// inputs' offsets, in <data_dir>/state:
//
//	ckpt-<seq>/<detector>.snapshot   one per detector with state (hashed framing)
//	ckpt-<seq>/offsets.json          the file inputs' committed offsets at the capture
//	CURRENT                          the name of the newest complete checkpoint
//
// It implements pipeline.Checkpointer: the state is written when the
// detect goroutine captures it, into ckpt-<seq>.tmp; Complete adds the
// offsets (committed up to exactly the captured records), renames the
// folder and then swaps CURRENT, each step synced, so a crash at any point
// leaves the previous complete checkpoint current. A restart restores the
// state from CURRENT and resumes each file at the checkpoint's offset:
// lines after it that were stored before the crash are read again (stored
// once, alert folds idempotent) and counted into the state once.
type Checkpoints struct {
	dir    string
	engine *detect.Engine
	files  func() []*file.Input
	log    *slog.Logger
	seq    uint64 // the last checkpoint's number (Restore, then Capture only)
}

var ckptName = regexp.MustCompile(`^ckpt-([0-9]{20})$`)

const offsetsFile = "offsets.json"

// NewCheckpoints returns the checkpoints of engine's detectors in dir;
// files lists the file inputs whose offsets go with them.
func NewCheckpoints(dir string, engine *detect.Engine, files func() []*file.Input, log *slog.Logger) *Checkpoints {
	return &Checkpoints{dir: dir, engine: engine, files: files, log: log}
}

// Restore loads the current checkpoint's state into the detectors and
// returns its offsets (nil without a checkpoint). A detector whose snapshot
// is missing or does not verify starts empty (logged). Without a
// checkpoint, the snapshots of earlier releases (<dir>/<detector>.snapshot)
// are loaded.
func (c *Checkpoints) Restore() map[string]store.Offset {
	c.clearPartial()
	from := c.dir
	var offsets map[string]store.Offset
	name, err := os.ReadFile(filepath.Join(c.dir, "CURRENT"))
	switch {
	case err == nil:
		m := ckptName.FindStringSubmatch(strings.TrimSpace(string(name)))
		if m == nil {
			c.log.Error("state/CURRENT names no checkpoint; detectors start empty", "content", strings.TrimSpace(string(name)))
			return nil
		}
		from = filepath.Join(c.dir, m[0])
		data, err := os.ReadFile(filepath.Join(from, offsetsFile))
		if err == nil {
			err = json.Unmarshal(data, &offsets)
		}
		if err != nil {
			c.log.Error("checkpoint offsets unreadable; files resume at their saved offsets", "checkpoint", m[0], "err", err)
			offsets = nil
		}
	case !errors.Is(err, os.ErrNotExist):
		c.log.Error("reading state/CURRENT failed; detectors start empty", "err", err)
		return nil
	}
	for _, d := range c.engine.Detectors() {
		sn, ok := d.(anomaly.Snapshotter)
		if !ok {
			continue
		}
		err := anomaly.LoadSnapshot(filepath.Join(from, d.Name()+".snapshot"), sn)
		switch {
		case err == nil:
			c.log.Info("detector state restored", "detector", d.Name(), "from", from)
		case errors.Is(err, os.ErrNotExist):
		default:
			c.log.Error("detector state not restored; it starts over", "detector", d.Name(), "err", err)
		}
	}
	return offsets
}

var _ pipeline.Checkpointer = (*Checkpoints)(nil)

// Capture writes every stateful detector's snapshot into a new checkpoint
// folder; the pipeline calls it between records. The files are synced by
// Complete, on the writer's goroutine, not here on the detection path.
func (c *Checkpoints) Capture() (pipeline.Checkpoint, error) {
	c.seq++
	p := &pendingCheckpoint{c: c, seq: c.seq, tmp: filepath.Join(c.dir, fmt.Sprintf("ckpt-%020d.tmp", c.seq))}
	if err := os.RemoveAll(p.tmp); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(p.tmp, 0o700); err != nil {
		return nil, err
	}
	for _, d := range c.engine.Detectors() {
		if sn, ok := d.(anomaly.Snapshotter); ok {
			path := filepath.Join(p.tmp, d.Name()+".snapshot")
			if err := anomaly.WriteSnapshot(path, sn); err != nil {
				p.Abort()
				return nil, err
			}
			p.files = append(p.files, path)
		}
	}
	return p, nil
}

type pendingCheckpoint struct {
	c     *Checkpoints
	seq   uint64
	tmp   string
	files []string // the snapshots Capture wrote, synced by Complete
}

// Complete adds the committed offsets and makes the checkpoint current.
func (p *pendingCheckpoint) Complete(ctx context.Context) error {
	offsets := map[string]store.Offset{}
	for _, in := range p.c.files() {
		for k, o := range in.Committed() {
			offsets[k] = o
		}
	}
	data, err := json.Marshal(offsets)
	if err != nil {
		return err
	}
	for _, path := range p.files {
		if err := syncFile(path); err != nil {
			return err
		}
	}
	if err := writeSynced(filepath.Join(p.tmp, offsetsFile), data); err != nil {
		return err
	}
	if err := syncDir(p.tmp); err != nil {
		return err
	}
	name := fmt.Sprintf("ckpt-%020d", p.seq)
	if err := os.Rename(p.tmp, filepath.Join(p.c.dir, name)); err != nil {
		return err
	}
	cur := filepath.Join(p.c.dir, "CURRENT")
	if err := writeSynced(cur+".tmp", []byte(name+"\n")); err != nil {
		return err
	}
	if err := os.Rename(cur+".tmp", cur); err != nil {
		return err
	}
	if err := syncDir(p.c.dir); err != nil {
		return err
	}
	p.c.prune(name)
	// The store's offsets catch up (a restart would use the checkpoint's
	// anyway; this keeps tools that read the store current).
	for _, in := range p.c.files() {
		if err := in.SaveOffsets(ctx); err != nil {
			p.c.log.Warn("saving file offsets failed", "input", in.Name(), "err", err)
		}
	}
	return nil
}

// Abort removes the captured state.
func (p *pendingCheckpoint) Abort() { os.RemoveAll(p.tmp) }

// clearPartial removes captures a crash left incomplete and numbers the
// next checkpoint after every folder there.
func (c *Checkpoints) clearPartial() {
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		n := e.Name()
		base, partial := strings.CutSuffix(n, ".tmp")
		m := ckptName.FindStringSubmatch(base)
		if m == nil || !e.IsDir() {
			continue
		}
		if seq, _ := strconv.ParseUint(m[1], 10, 64); seq > c.seq {
			c.seq = seq
		}
		if partial {
			os.RemoveAll(filepath.Join(c.dir, n))
		}
	}
}

// prune removes checkpoint folders other than keep (older ones, and
// captures that never completed).
func (c *Checkpoints) prune(keep string) {
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		n := e.Name()
		base, _ := strings.CutSuffix(n, ".tmp")
		if e.IsDir() && ckptName.MatchString(base) && n < keep {
			os.RemoveAll(filepath.Join(c.dir, n))
		}
	}
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// resumeOffsets answers a file input's first offset lookups from a
// checkpoint (the offsets that match the restored state) and everything
// else from the store. Each checkpoint offset is served once: a file
// reopened later in the run resumes from where this run got to.
type resumeOffsets struct {
	store.OffsetStore
	mu sync.Mutex
	at map[string]store.Offset
}

func (r *resumeOffsets) GetOffset(ctx context.Context, key string) (store.Offset, error) {
	r.mu.Lock()
	o, ok := r.at[key]
	if ok {
		for k, x := range r.at {
			if x == o {
				delete(r.at, k) // the same offset under its other key
			}
		}
	}
	r.mu.Unlock()
	if ok {
		return o, nil
	}
	return r.OffsetStore.GetOffset(ctx, key)
}
