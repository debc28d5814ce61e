package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

// TestEvalCLI: the suite list goes to standard output (it went to stderr,
// so `rampart eval --suite list | grep` found nothing), and a suite run
// without --data says so instead of "open : no such file or directory".
func TestEvalCLI(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	cmd := newEvalCmd()
	cmd.SetArgs([]string{"--suite", "list"})
	runErr := cmd.ExecuteContext(context.Background())
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	if runErr != nil || !strings.Contains(string(out), "loghub") {
		t.Errorf("suite list on stdout: err %v, got %q", runErr, out)
	}

	cmd = newEvalCmd()
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs([]string{"--suite", "loghub"})
	if err := cmd.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "--data") {
		t.Errorf("suite without --data: %v", err)
	}
}
