package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/config"
)

// TestSkippedSigmaRuleIsLogged: a Sigma rule that does not compile is
// skipped at start so one bad community rule cannot stop detection, but
// it must be reported with its file, line and reason (it was skipped
// silently by serve and replay alike).
func TestSkippedSigmaRuleIsLogged(t *testing.T) {
	dir := t.TempDir()
	good := "title: good\nid: 22222222-2222-2222-2222-222222222222\nlogsource: {product: linux}\ndetection:\n  sel:\n    message|contains: x\n  condition: sel\n"
	bad := "title: broken\nid: 11111111-1111-1111-1111-111111111111\nlogsource: {product: linux}\ndetection:\n  sel:\n    message|bogus: x\n  condition: sel\n"
	for name, text := range map[string]string{"good.yml": good, "bad.yml": bad} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	defer slog.SetDefault(prev)
	_, cleanup, err := BuildEngine(context.Background(), RuleSet{Sigma: []string{dir}, NoML: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	want := filepath.Join(dir, "bad.yml") + ":6"
	if !strings.Contains(logs.String(), want) || !strings.Contains(logs.String(), "bogus") {
		t.Errorf("no warning naming %s and its reason; log:\n%s", want, logs.String())
	}
}

// TestOutputErrorNamesFile: an output the config cannot build is reported
// as file:line: key like every other config error (it lacked the file).
func TestOutputErrorNamesFile(t *testing.T) {
	dir := t.TempDir()
	text := "data_dir: " + dir + "\nhttp:\n  listen: 127.0.0.1:0\nalerts:\n  outputs:\n    - kind: file\n      path: " + filepath.Join(dir, "a.jsonl") + "\n    - kind: carrier-pigeon\n"
	cfg, err := config.Parse("node.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	err = Serve(context.Background(), cfg, ServeOptions{TokenOut: io.Discard, Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.HasPrefix(err.Error(), "node.yaml:8: alerts.outputs[1]: ") || !strings.Contains(err.Error(), "carrier-pigeon") {
		t.Errorf("got %v", err)
	}
}
