package ioc

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/event"
)

// parseTxtar splits a txtar archive ("-- name --" lines) into files.
func parseTxtar(data []byte) map[string][]byte {
	files := map[string][]byte{}
	var name string
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		if strings.HasPrefix(s, "-- ") && strings.HasSuffix(s, " --") && len(s) > 6 {
			name = strings.TrimSpace(s[3 : len(s)-3])
			files[name] = nil
			continue
		}
		if name != "" {
			files[name] = append(files[name], line...)
		}
	}
	return files
}

type goldenEvent struct {
	ID     string         `json:"id"`
	Time   time.Time      `json:"time"`
	Fields map[string]any `json:"fields"`
}

type goldenSignal struct {
	Event       string            `json:"event"`
	RuleID      string            `json:"rule_id"`
	Title       string            `json:"title"`
	Level       string            `json:"level"`
	Entities    []string          `json:"entities"`
	Explanation string            `json:"explanation"`
	Details     map[string]string `json:"details"`
}

// toField converts decoded JSON to the event field value types.
func toField(v any) any {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) {
			return int64(x)
		}
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, event.ValueString(toField(e)))
		}
		return out
	}
	return v
}

// TestGolden runs testdata/cases/*.txtar: each holds indicator lists (any
// file but events.jsonl and want.json), events.jsonl and want.json.
// UPDATE_GOLDEN=1 rewrites want.json.
func TestGolden(t *testing.T) {
	cases, _ := filepath.Glob("testdata/cases/*.txtar")
	if len(cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range cases {
		t.Run(filepath.Base(c), func(t *testing.T) {
			raw, err := os.ReadFile(c)
			if err != nil {
				t.Fatal(err)
			}
			files := parseTxtar(raw)
			dir := t.TempDir()
			for name, body := range files {
				if name == "events.jsonl" || name == "want.json" {
					continue
				}
				if err := os.WriteFile(filepath.Join(dir, name), body, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			d := mustNew(t, ListConfig{Path: dir})
			if st := d.Stats(); st.BadLines > 0 {
				t.Fatalf("bad lines in case lists: %v", st.Errors)
			}
			got := []goldenSignal{}
			for i, line := range bytes.Split(bytes.TrimSpace(files["events.jsonl"]), []byte("\n")) {
				var ge goldenEvent
				if err := json.Unmarshal(line, &ge); err != nil {
					t.Fatalf("events.jsonl:%d: %v", i+1, err)
				}
				e := event.New()
				e.ID, e.Time = ge.ID, ge.Time
				for k, v := range ge.Fields {
					e.Set(k, toField(v))
				}
				for _, s := range run(t, d, e) {
					gs := goldenSignal{Event: ge.ID, RuleID: s.RuleID, Title: s.Title, Level: string(s.Level),
						Explanation: s.Explanation, Details: map[string]string{}}
					for _, en := range s.Entities {
						gs.Entities = append(gs.Entities, en.Kind+"="+en.Value)
					}
					for k, v := range s.Details {
						switch x := v.(type) {
						case []string:
							gs.Details[k] = strings.Join(x, ",")
						case time.Time:
							gs.Details[k] = x.Format(time.RFC3339)
						default:
							gs.Details[k] = x.(string)
						}
					}
					got = append(got, gs)
				}
			}
			if os.Getenv("UPDATE_GOLDEN") != "" {
				b, _ := json.MarshalIndent(got, "", "  ")
				out := raw[:bytes.Index(raw, []byte("-- want.json --"))]
				out = append(out, "-- want.json --\n"...)
				out = append(out, b...)
				out = append(out, '\n')
				if err := os.WriteFile(c, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			var want []goldenSignal
			if err := json.Unmarshal(files["want.json"], &want); err != nil {
				t.Fatalf("want.json: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("signals (-want +got):\n%s", diff)
			}
		})
	}
}
