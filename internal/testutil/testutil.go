// Package testutil holds helpers shared by tests.
package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// SharedData returns the path of ../shared/data/<sub> (or $RAMPART_SHARED_DATA/<sub>),
// skipping the test with a clear message when it is absent.
func SharedData(t testing.TB, sub string) string {
	t.Helper()
	p := filepath.Join(SharedDataRoot(), sub)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data %s not available (set RAMPART_SHARED_DATA or place ../shared/data beside the repo): %v", p, err)
	}
	return p
}

// SharedDataRoot is $RAMPART_SHARED_DATA, or ../shared/data beside the module root.
func SharedDataRoot() string {
	if d := os.Getenv("RAMPART_SHARED_DATA"); d != "" {
		return d
	}
	return filepath.Join(ModuleRoot(), "..", "shared", "data")
}

// ModuleRoot is the repository root (where go.mod is).
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// SyncBuffer is a bytes.Buffer safe for one writer (a child process's
// output copier) and a reader (the test) at once.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
