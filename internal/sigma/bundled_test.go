package sigma

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/testutil"
)

type goldenCase struct {
	Match   []map[string]any `json:"match"`
	NoMatch []map[string]any `json:"nomatch"`
}

// jsonEvent builds an event from a flat JSON object (whole numbers become int64).
func jsonEvent(m map[string]any) *event.Event {
	ev := event.New()
	ev.ID = "golden"
	for k, v := range m {
		if f, ok := v.(float64); ok && f == float64(int64(f)) {
			v = int64(f)
		}
		ev.Set(k, v)
	}
	return ev
}

// TestBundledRules runs each bundled rule's golden events: "events in, signals out".
func TestBundledRules(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(), "rules", "sigma")
	files, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	if err != nil || len(files) < 10 {
		t.Fatalf("bundled rules: %v (%d files)", err, len(files))
	}
	rep := Check([]string{dir}, Options{})
	if rep.Failed > 0 {
		t.Fatalf("bundled rules fail to load: %+v", rep.Failures)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "tests", name+".json"))
			if err != nil {
				t.Fatalf("every bundled rule needs a golden test: %v", err)
			}
			var gc goldenCase
			if err := json.Unmarshal(raw, &gc); err != nil {
				t.Fatal(err)
			}
			if len(gc.Match) == 0 || len(gc.NoMatch) == 0 {
				t.Fatal("golden test needs match and nomatch events")
			}
			d, err := New(Options{Paths: []string{f}})
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range gc.Match {
				if got := d.Matches(jsonEvent(m)); len(got) != 1 {
					t.Errorf("match[%d] %v: got %d matches, want 1", i, m, len(got))
				}
			}
			for i, m := range gc.NoMatch {
				if got := d.Matches(jsonEvent(m)); len(got) != 0 {
					t.Errorf("nomatch[%d] %v: got %d matches, want 0", i, m, len(got))
				}
			}
		})
	}
}
