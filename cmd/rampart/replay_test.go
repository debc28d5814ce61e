package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/testutil"
)

// replayRules runs replay with args and returns its signals by rule id and
// its summary.
func replayRules(t *testing.T, args ...string) (map[string]int, string, error) {
	t.Helper()
	cmd := newReplayCmd()
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	counts := map[string]int{}
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var s struct {
			RuleID string `json:"rule_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("signal line %q: %v", sc.Text(), err)
		}
		counts[s.RuleID]++
	}
	return counts, errOut.String(), err
}

// TestReplaySuppressions: --suppressions (the body of GET
// /api/v1/suppressions) hides exactly the signals an active suppression
// matches, as serve would, and counts them; an expired one hides nothing.
func TestReplaySuppressions(t *testing.T) {
	log := filepath.Join(testutil.SharedData(t, "loghub-2k"), "OpenSSH", "OpenSSH_2k.log")
	base, _, err := replayRules(t, log)
	if err != nil {
		t.Fatal(err)
	}
	var top, other string
	for id, n := range base {
		if top == "" || n > base[top] || (n == base[top] && id < top) {
			top = id
		}
	}
	for id := range base {
		if id != top && (other == "" || id < other) {
			other = id
		}
	}
	if top == "" || other == "" {
		t.Fatalf("want signals of two rules at least, got %v", base)
	}
	now := time.Now().UTC()
	body := map[string]any{"suppressions": []map[string]any{
		{"id": "s-active", "rule_id": top, "entities": []string{}, "reason": "known noise", "created_by": "ann",
			"created_at": now.Add(-time.Hour), "expires_at": now.Add(time.Hour), "active": true, "hits": 0},
		{"id": "s-expired", "rule_id": other, "entities": []string{}, "reason": "old", "created_by": "ann",
			"created_at": now.Add(-3 * time.Hour), "expires_at": now.Add(-time.Hour), "active": false, "hits": 0},
	}}
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "suppressions.json")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, summary, err := replayRules(t, "--suppressions", f, log)
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range base {
		want := n
		if id == top {
			want = 0
		}
		if got[id] != want {
			t.Errorf("rule %s: %d signals with the suppressions, want %d (%d without)", id, got[id], want, n)
		}
	}
	if line := fmt.Sprintf("  %7d  s-active\tknown noise", base[top]); !strings.Contains(summary, line) {
		t.Errorf("summary does not count the hidden signals as %q:\n%s", line, summary)
	}
	if strings.Contains(summary, "s-expired") {
		t.Errorf("summary names the expired suppression:\n%s", summary)
	}

	// A malformed entry is refused with its index, and nothing runs.
	bad := `{"suppressions": [{"id": "x", "entities": ["nokind"], "reason": "r", "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-02T00:00:00Z"}]}`
	if err := os.WriteFile(f, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := replayRules(t, "--suppressions", f, log); err == nil || !strings.Contains(err.Error(), "suppressions[0]") {
		t.Errorf("malformed suppression: err = %v, want one naming suppressions[0]", err)
	}
}
