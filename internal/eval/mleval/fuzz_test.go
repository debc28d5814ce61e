package mleval

import (
	"os"
	"path/filepath"
	"testing"
)

// The suites' readers take files from users' DIRs: bad input must give an
// error, never a crash. The data-set readers are fuzzed in internal/ml/dataset.

func fuzzFile(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
