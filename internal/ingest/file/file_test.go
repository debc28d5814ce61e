package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/rampart-ids/rampart/internal/ingest"
	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memOffsets is an in-memory store.OffsetStore.
type memOffsets struct {
	mu sync.Mutex
	m  map[string]store.Offset
}

func newMemOffsets() *memOffsets { return &memOffsets{m: map[string]store.Offset{}} }

func (s *memOffsets) GetOffset(_ context.Context, key string) (store.Offset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.m[key]
	if !ok {
		return store.Offset{}, store.ErrNotFound
	}
	return o, nil
}

func (s *memOffsets) SetOffset(_ context.Context, key string, o store.Offset) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = o
	return nil
}

// sink collects records; with commit set it commits each one as it arrives.
type sink struct {
	mu     sync.Mutex
	recs   []ingest.Record
	commit bool
}

func (s *sink) Submit(_ context.Context, recs []ingest.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.recs = append(s.recs, r)
		if s.commit && r.Commit != nil {
			r.Commit()
		}
	}
	return nil
}

func (s *sink) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.recs))
	for _, r := range s.recs {
		out = append(out, string(r.Data))
	}
	return out
}

func (s *sink) snapshot() []ingest.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ingest.Record(nil), s.recs...)
}

// waitFor polls cond until it holds or 10s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

type rec struct {
	Data, Position, Format string
}

func TestOnce(t *testing.T) {
	tests := []struct {
		name    string
		content string
		max     int
		want    []rec
	}{
		{"lines", "a\nbb\n", 0, []rec{{"a", "0", ""}, {"bb", "2", ""}}},
		{"crlf and final partial", "a\r\nlast", 0, []rec{{"a", "0", ""}, {"last", "3", ""}}},
		{"oversize quarantined not dropped", "0123456789\nok\n", 4,
			[]rec{{"0123", "0", ingest.FormatOversize}, {"ok", "11", ""}}},
		{"empty file", "", 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "x.log")
			writeFile(t, p, tc.content)
			in, err := New(Config{Paths: []string{p}, Once: true, MaxRecordBytes: tc.max}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			s := &sink{}
			if err := in.Run(context.Background(), s); err != nil {
				t.Fatal(err)
			}
			var got []rec
			for _, r := range s.snapshot() {
				if r.Source != "file:"+p {
					t.Errorf("source %q, want file:%s", r.Source, p)
				}
				got = append(got, rec{string(r.Data), r.Position, r.Format})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no paths", Config{}, "at least one path"},
		{"proc", Config{Paths: []string{"/proc/self/status"}}, "under /proc"},
		{"dev glob", Config{Paths: []string{"/dev/*"}}, "under /proc"},
		{"bad pattern", Config{Paths: []string{"/tmp/[x"}}, "bad pattern"},
		{"ok", Config{Paths: []string{"/var/log/*.log"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, nil, nil)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestUnsafePaths(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/proc/self/status", filepath.Join(dir, "proc.log")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.log"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.log")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "real.log"), "fine\n")
	if err := os.Symlink(filepath.Join(dir, "real.log"), filepath.Join(dir, "link.log")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"proc.log", "fifo.log", "zero.log"} {
		_, _, err := openRegular(filepath.Join(dir, name))
		if !errors.Is(err, ErrUnsafePath) {
			t.Errorf("%s: got %v, want ErrUnsafePath", name, err)
		}
	}
	// The glob matches all; only the regular file is read, once (link.log is the same file).
	in, err := New(Config{Paths: []string{filepath.Join(dir, "*.log")}, Once: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	if err := in.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if got := s.lines(); !cmp.Equal(got, []string{"fine"}) {
		t.Errorf("got %q, want [fine]", got)
	}
}

// run starts in.Run in the background and returns a stop func that
// cancels it and returns its error.
func run(t *testing.T, in *Input, s ingest.Sink) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, s) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func fastConfig(paths ...string) Config {
	return Config{Paths: paths, PollInterval: 5 * time.Millisecond, GlobInterval: 20 * time.Millisecond, SaveInterval: 5 * time.Millisecond}
}

func TestFollowRotation(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.log")
	writeFile(t, p, "one\n")
	in, err := New(fastConfig(p), newMemOffsets(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{commit: true}
	stop := run(t, in, s)
	waitFor(t, "first line", func() bool { return len(s.lines()) == 1 })

	appendFile(t, p, "two\nthr")
	waitFor(t, "appended line", func() bool { return len(s.lines()) == 2 })
	appendFile(t, p, "ee\n")
	waitFor(t, "completed partial line", func() bool { return len(s.lines()) == 3 })

	// rename+create: lines written to the old file after the rename are
	// still read before switching.
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p+".1", "four-old\nfive-old-no-newline")
	writeFile(t, p, "six-new\n")
	waitFor(t, "rotated lines", func() bool { return len(s.lines()) == 6 })

	// copytruncate: the file shrinks below the read offset.
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p, "7\n")
	waitFor(t, "line after truncate", func() bool { return len(s.lines()) == 7 })

	if err := stop(); err != nil {
		t.Fatal(err)
	}
	want := []string{"one", "two", "three", "four-old", "five-old-no-newline", "six-new", "7"}
	if diff := cmp.Diff(want, s.lines()); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	recs := s.snapshot()
	if recs[6].Position != "0" || recs[5].Position != "0" || recs[3].Position != "14" {
		t.Errorf("positions %q %q %q, want 14 0 0", recs[3].Position, recs[5].Position, recs[6].Position)
	}
}

func TestGlobPicksUpNewFiles(t *testing.T) {
	dir := t.TempDir()
	in, err := New(fastConfig(filepath.Join(dir, "*.log")), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{commit: true}
	stop := run(t, in, s)
	writeFile(t, filepath.Join(dir, "a.log"), "from a\n")
	waitFor(t, "a.log", func() bool { return len(s.lines()) == 1 })
	writeFile(t, filepath.Join(dir, "b.log"), "from b\n")
	writeFile(t, filepath.Join(dir, "b.txt"), "not matched\n")
	waitFor(t, "b.log", func() bool { return len(s.lines()) == 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := in.Stats(); st.Records != 2 || st.Bytes != 14 || st.LastRead.IsZero() {
		t.Errorf("stats %+v, want 2 records, 14 bytes", st)
	}
}

// TestRestartResumes checks at-least-once: only committed lines are skipped
// after a restart, and a replaced file starts from 0.
func TestRestartResumes(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "auth.log")
	writeFile(t, p, "l1\nl2\nl3\n")
	offs := newMemOffsets()

	// First run: records arrive but only the first two are committed.
	in, err := New(fastConfig(p), offs, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	stop := run(t, in, s)
	waitFor(t, "3 lines", func() bool { return len(s.lines()) == 3 })
	recs := s.snapshot()
	recs[1].Commit() // out of order: must not advance past l1 yet
	if err := in.SaveOffsets(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := offs.GetOffset(context.Background(), Source(p)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("offset saved before l1 committed: %v", err)
	}
	recs[0].Commit()
	recs[0].Commit() // a second call is harmless
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	o, err := offs.GetOffset(context.Background(), Source(p))
	if err != nil || o.Offset != 6 {
		t.Fatalf("saved %+v %v, want offset 6", o, err)
	}

	// Second run: l3 (uncommitted) is read again, then new lines.
	appendFile(t, p, "l4\n")
	in2, err := New(fastConfig(p), offs, nil)
	if err != nil {
		t.Fatal(err)
	}
	s2 := &sink{commit: true}
	stop2 := run(t, in2, s2)
	waitFor(t, "resumed lines", func() bool { return len(s2.lines()) == 2 })
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"l3", "l4"}, s2.lines()); diff != "" {
		t.Errorf("after restart (-want +got):\n%s", diff)
	}

	// Third run: the file was replaced while down (new inode): read from 0.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	writeFile(t, p, "n1\n")
	in3, err := New(fastConfig(p), offs, nil)
	if err != nil {
		t.Fatal(err)
	}
	s3 := &sink{commit: true}
	stop3 := run(t, in3, s3)
	waitFor(t, "replaced file", func() bool { return len(s3.lines()) == 1 })
	if err := stop3(); err != nil {
		t.Fatal(err)
	}
	if got := s3.lines(); got[0] != "n1" {
		t.Errorf("got %q, want n1", got)
	}
}

func TestCommitterOrder(t *testing.T) {
	c := &committer{}
	var commits []func()
	for i := range 200 {
		commits = append(commits, c.add("f", int64(i+1)))
	}
	// Commit in reverse: nothing advances until the first is committed.
	for i := len(commits) - 1; i >= 1; i-- {
		commits[i]()
		if _, ok := c.dirty(); ok {
			t.Fatalf("advanced with record 0 uncommitted (after %d)", i)
		}
	}
	commits[0]()
	o, ok := c.dirty()
	if !ok || o != (store.Offset{FileID: "f", Offset: 200}) {
		t.Fatalf("got %+v %v, want f@200", o, ok)
	}
	c.saved(o)
	if _, ok := c.dirty(); ok {
		t.Error("still dirty after save")
	}
}

func TestSharedOpenSSH(t *testing.T) {
	dir := testutil.SharedData(t, "loghub-2k/OpenSSH")
	in, err := New(Config{Paths: []string{filepath.Join(dir, "OpenSSH_2k.log")}, Once: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	if err := in.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	recs := s.snapshot()
	if len(recs) != 2000 {
		t.Fatalf("got %d records, want 2000", len(recs))
	}
	if !strings.Contains(string(recs[1].Data), "Invalid user webmaster") {
		t.Errorf("record 1 = %q", recs[1].Data)
	}
	fi, err := os.Stat(filepath.Join(dir, "OpenSSH_2k.log"))
	if err != nil {
		t.Fatal(err)
	}
	if st := in.Stats(); st.Bytes != uint64(fi.Size()) {
		t.Errorf("bytes %d, want file size %d", st.Bytes, fi.Size())
	}
}

// TestGlobOverRotatedNames rotates under a pattern that also matches the
// rotated name: every line must be read exactly once.
func TestGlobOverRotatedNames(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "auth.log")
	writeFile(t, p, "a1\na2\n")
	in, err := New(fastConfig(filepath.Join(dir, "auth.log*")), newMemOffsets(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{commit: true}
	stop := run(t, in, s)
	waitFor(t, "initial lines", func() bool { return len(s.lines()) == 2 })
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p+".1", "a3\n")
	writeFile(t, p, "b1\n")
	waitFor(t, "rotated lines", func() bool { return len(s.lines()) >= 4 })
	// Give the glob scan several rounds to (wrongly) re-read auth.log.1.
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	appendFile(t, p+".1", "a4-late\n")
	waitFor(t, "late line in rotated file", func() bool { return len(s.lines()) >= 5 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := s.lines()
	sort.Strings(got)
	if diff := cmp.Diff([]string{"a1", "a2", "a3", "a4-late", "b1"}, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

// TestRestartSameInodeNewContent: a file rewritten in place (same inode,
// new content) while Rampart was down is read from 0, not from the old offset.
func TestRestartSameInodeNewContent(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.log")
	writeFile(t, p, "old line 1\nold line 2\n")
	offs := newMemOffsets()
	in, err := New(fastConfig(p), offs, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{commit: true}
	stop := run(t, in, s)
	waitFor(t, "old lines", func() bool { return len(s.lines()) == 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if o, err := offs.GetOffset(context.Background(), Source(p)); err != nil || o.Offset != 22 || !strings.Contains(o.FileID, "/22:") {
		t.Fatalf("saved %+v %v, want offset 22 with a 22-byte fingerprint", o, err)
	}
	writeFile(t, p, "NEW content, longer than before\n") // O_TRUNC keeps the inode

	in2, err := New(fastConfig(p), offs, nil)
	if err != nil {
		t.Fatal(err)
	}
	s2 := &sink{commit: true}
	stop2 := run(t, in2, s2)
	waitFor(t, "new content", func() bool { return len(s2.lines()) == 1 })
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	if got := s2.lines()[0]; got != "NEW content, longer than before" {
		t.Errorf("got %q, want the whole new line", got)
	}
}

// TestReadErrorReopens: a failing read drops the file, and the next scan
// reopens it after the last line passed on, with nothing lost or repeated.
func TestReadErrorReopens(t *testing.T) {
	p := filepath.Join(t.TempDir(), "app.log")
	writeFile(t, p, "one\ntw")
	in, err := New(fastConfig(p), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{commit: true}
	ctx := context.Background()
	in.scan(ctx)
	tl := in.tails[p]
	if _, err := in.pump(ctx, tl, s); err != nil {
		t.Fatal(err)
	}
	tl.f.Close() // the next read fails
	appendFile(t, p, "o\nthree\n")
	stop := run(t, in, s)
	waitFor(t, "lines after reopen", func() bool { return len(s.lines()) == 3 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"one", "two", "three"}, s.lines()); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

// TestNoTimedSave: with a negative SaveInterval, committed offsets are
// saved only by SaveOffsets (a checkpoint), never on a timer nor when Run
// ends, so the stored offset cannot run ahead of a checkpoint's state.
func TestNoTimedSave(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "auth.log")
	writeFile(t, p, "l1\nl2\n")
	offs := newMemOffsets()
	cfg := fastConfig(p)
	cfg.SaveInterval = -1
	in, err := New(cfg, offs, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{commit: true}
	stop := run(t, in, s)
	waitFor(t, "2 lines", func() bool { return len(s.lines()) == 2 })
	time.Sleep(100 * time.Millisecond) // 20 of fastConfig's poll intervals
	if _, err := offs.GetOffset(context.Background(), Source(p)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("offset saved on a timer: %v", err)
	}
	if err := in.SaveOffsets(context.Background()); err != nil {
		t.Fatal(err)
	}
	if o, err := offs.GetOffset(context.Background(), Source(p)); err != nil || o.Offset != 6 {
		t.Fatalf("after SaveOffsets: %+v %v, want offset 6", o, err)
	}
	appendFile(t, p, "l3\n")
	waitFor(t, "3 lines", func() bool { return len(s.lines()) == 3 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.GetOffset(context.Background(), Source(p)); o.Offset != 6 {
		t.Errorf("after Run ended: offset %d, want 6 (saved by no checkpoint since)", o.Offset)
	}
	if err := in.SaveOffsets(context.Background()); err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.GetOffset(context.Background(), Source(p)); o.Offset != 9 {
		t.Errorf("after SaveOffsets at the end: offset %d, want 9", o.Offset)
	}
}
