package app

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
