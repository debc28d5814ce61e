// Package testutil holds helpers shared by tests.
package testutil

import (
	"os"
	"path/filepath"
	"runtime"
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
