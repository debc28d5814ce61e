package privacy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"
)

// Mapping is one entry of the re-identification mapping: a pseudonym of one
// epoch and its original value, sealed with AES-GCM under the mapping key.
// The store never sees the original in clear.
type Mapping struct {
	Epoch     uint32
	Pseudonym string
	Kind      Kind
	// Sealed is nonce || AES-GCM(original); the additional data binds it to
	// Epoch, Kind and Pseudonym so a sealed value cannot be moved to another row.
	Sealed []byte
	// FirstSeen and LastSeen bound when the entity was pseudonymized in this
	// epoch (wall clock, coarse: updated at most once per Config.TouchEvery).
	FirstSeen, LastSeen time.Time
	// Previous is the same entity's pseudonym in epoch Epoch-1, set when
	// the entry was carried over by a rotation ("" otherwise).
	Previous string
}

// A MappingStore keeps the sealed pseudonym → original mapping. The
// in-memory and file-backed stores here are for single nodes and tests; the
// database store implements the same interface.
//
// Methods are called from many goroutines. Put is an upsert keyed by
// (Epoch, Pseudonym): an existing entry keeps FirstSeen, Sealed and a
// non-empty Previous, and LastSeen only moves forward. A cancelled ctx
// aborts the call with ctx.Err().
type MappingStore interface {
	// Put upserts a batch of entries.
	Put(ctx context.Context, ms []Mapping) error
	// Get returns one entry, or an error wrapping ErrNotFound.
	Get(ctx context.Context, epoch uint32, pseudonym string) (Mapping, error)
	// SeenSince calls fn for every entry of epoch whose LastSeen is not
	// before since, in no particular order; an error from fn stops the walk
	// and is returned.
	SeenSince(ctx context.Context, epoch uint32, since time.Time, fn func(Mapping) error) error
}

type mapKey struct {
	epoch uint32
	p     string
}

// MemoryMappings is an in-memory MappingStore.
type MemoryMappings struct {
	mu sync.RWMutex
	m  map[mapKey]Mapping
}

// NewMemoryMappings returns an empty in-memory mapping store.
func NewMemoryMappings() *MemoryMappings { return &MemoryMappings{m: map[mapKey]Mapping{}} }

// merge applies the upsert rule and reports whether anything changed.
func merge(old Mapping, exists bool, in Mapping) (Mapping, bool) {
	if !exists {
		return in, true
	}
	changed := false
	if in.LastSeen.After(old.LastSeen) {
		old.LastSeen, changed = in.LastSeen, true
	}
	if old.Previous == "" && in.Previous != "" {
		old.Previous, changed = in.Previous, true
	}
	return old, changed
}

// Put implements MappingStore.
func (s *MemoryMappings) Put(ctx context.Context, ms []Mapping) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.put(ms)
	return nil
}

func (s *MemoryMappings) put(ms []Mapping) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range ms {
		k := mapKey{in.Epoch, in.Pseudonym}
		old, ok := s.m[k]
		s.m[k], _ = merge(old, ok, in)
	}
}

// Get implements MappingStore.
func (s *MemoryMappings) Get(ctx context.Context, epoch uint32, pseudonym string) (Mapping, error) {
	if err := ctx.Err(); err != nil {
		return Mapping{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.m[mapKey{epoch, pseudonym}]
	if !ok {
		return Mapping{}, fmt.Errorf("pseudonym %q in epoch %d: %w", pseudonym, epoch, ErrNotFound)
	}
	return m, nil
}

// SeenSince implements MappingStore.
func (s *MemoryMappings) SeenSince(ctx context.Context, epoch uint32, since time.Time, fn func(Mapping) error) error {
	s.mu.RLock()
	var sel []Mapping
	for k, m := range s.m {
		if k.epoch == epoch && !m.LastSeen.Before(since) {
			sel = append(sel, m)
		}
	}
	s.mu.RUnlock()
	for _, m := range sel {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// PurgeBefore deletes entries whose LastSeen is before t and returns how
// many. The mapping holds sealed personal data, so it has a retention too:
// keep it as long as the longest-kept data that carries pseudonyms
// (alerts, verdicts, models); afterwards a pseudonym is one-way.
func (s *MemoryMappings) PurgeBefore(ctx context.Context, t time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for k, m := range s.m {
		if m.LastSeen.Before(t) {
			delete(s.m, k)
			n++
		}
	}
	return n, nil
}

// Len returns the number of entries.
func (s *MemoryMappings) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}

// maxMappingLine bounds one line of a mapping file.
const maxMappingLine = 64 << 10

// FileMappings is a MappingStore kept in memory and persisted as an
// append-only JSON-lines file (mode 0600): each Put appends the changed
// entries; on open the file is replayed (later lines win by the upsert rule)
// and rewritten compactly when it holds many superseded lines.
type FileMappings struct {
	mem  *MemoryMappings
	mu   sync.Mutex // serializes appends
	f    *os.File
	path string
}

// OpenFileMappings opens or creates the mapping file at path. A malformed
// line is an error naming its line number; only a final line cut short by a
// crash (no trailing newline) is skipped, with a warning on log (nil: discard).
func OpenFileMappings(path string, log *slog.Logger) (*FileMappings, error) {
	return openFileMappings(path, log, true)
}

// OpenFileMappingsShared opens the mapping file of a running node from a
// second process (the CLI): it only appends, never compacts, so it cannot
// replace the file under the node's open descriptor.
func OpenFileMappingsShared(path string, log *slog.Logger) (*FileMappings, error) {
	return openFileMappings(path, log, false)
}

func openFileMappings(path string, log *slog.Logger, compact bool) (*FileMappings, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mem := NewMemoryMappings()
	lines, err := replayMappings(path, mem, log)
	if err != nil {
		return nil, err
	}
	if compact && lines > 1024 && lines > 2*mem.Len() {
		if err := compactMappings(path, mem); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening mapping file: %w", err)
	}
	return &FileMappings{mem: mem, f: f, path: path}, nil
}

func replayMappings(path string, mem *MemoryMappings, log *slog.Logger) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("opening mapping file: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	n := 0
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return n, fmt.Errorf("mapping file %s line %d: longer than %d bytes", path, n+1, maxMappingLine)
		}
		if errors.Is(err, io.EOF) {
			if len(bytes.TrimSpace(line)) > 0 {
				log.Warn("mapping file ends in a partial line, skipped", "path", path, "line", n+1)
			}
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("reading mapping file %s: %w", path, err)
		}
		n++
		var m Mapping
		if err := json.Unmarshal(line, &m); err != nil {
			return n, fmt.Errorf("mapping file %s line %d: %w", path, n, err)
		}
		if m.Epoch == 0 || m.Pseudonym == "" || len(m.Sealed) == 0 {
			return n, fmt.Errorf("mapping file %s line %d: missing epoch, pseudonym or sealed value", path, n)
		}
		k := mapKey{m.Epoch, m.Pseudonym}
		old, ok := mem.m[k]
		mem.m[k], _ = merge(old, ok, m)
	}
}

func compactMappings(path string, mem *MemoryMappings) error {
	tmp := path + ".compact"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("compacting mapping file: %w", err)
	}
	keys := make([]mapKey, 0, len(mem.m))
	for k := range mem.m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].epoch != keys[j].epoch {
			return keys[i].epoch < keys[j].epoch
		}
		return keys[i].p < keys[j].p
	})
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, k := range keys {
		if err := enc.Encode(mem.m[k]); err != nil {
			f.Close()
			return fmt.Errorf("compacting mapping file: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("compacting mapping file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("compacting mapping file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("compacting mapping file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("compacting mapping file: %w", err)
	}
	return nil
}

// Put implements MappingStore: changed entries are appended and synced
// before the in-memory state changes.
func (s *FileMappings) Put(ctx context.Context, ms []Mapping) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	s.mem.mu.RLock()
	for _, in := range ms {
		old, ok := s.mem.m[mapKey{in.Epoch, in.Pseudonym}]
		if merged, changed := merge(old, ok, in); changed {
			if err := enc.Encode(merged); err != nil {
				s.mem.mu.RUnlock()
				return fmt.Errorf("encoding mapping: %w", err)
			}
		}
	}
	s.mem.mu.RUnlock()
	if buf.Len() == 0 {
		return nil
	}
	if _, err := s.f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("appending to mapping file: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("syncing mapping file: %w", err)
	}
	s.mem.put(ms) // on disk already: memory must follow even if ctx ends now
	return nil
}

// Get implements MappingStore.
func (s *FileMappings) Get(ctx context.Context, epoch uint32, pseudonym string) (Mapping, error) {
	return s.mem.Get(ctx, epoch, pseudonym)
}

// SeenSince implements MappingStore.
func (s *FileMappings) SeenSince(ctx context.Context, epoch uint32, since time.Time, fn func(Mapping) error) error {
	return s.mem.SeenSince(ctx, epoch, since, fn)
}

// PurgeBefore deletes entries whose LastSeen is before t (see
// MemoryMappings.PurgeBefore) and rewrites the file without them, so the
// sealed originals are gone from disk too.
func (s *FileMappings) PurgeBefore(ctx context.Context, t time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.mem.PurgeBefore(ctx, t)
	if err != nil || n == 0 {
		return n, err
	}
	s.mem.mu.RLock()
	err = compactMappings(s.path, s.mem)
	s.mem.mu.RUnlock()
	if err != nil {
		return n, err
	}
	// The old descriptor points at the replaced file: reopen for appends.
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return n, fmt.Errorf("reopening mapping file: %w", err)
	}
	old := s.f
	s.f = f
	if err := old.Close(); err != nil {
		return n, fmt.Errorf("closing replaced mapping file: %w", err)
	}
	return n, nil
}

// Close closes the file.
func (s *FileMappings) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("closing mapping file: %w", err)
	}
	return nil
}
