package ids_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/detect/ids"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	_ "github.com/rampart-ids/rampart/internal/format/eve"
	_ "github.com/rampart-ids/rampart/internal/format/zeek"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// goldenSignal is the stable part of a signal (ids derive from event ids,
// which depend on the source name, so they are left out).
type goldenSignal struct {
	Event       int            `json:"event"` // index among the input's events
	RuleID      string         `json:"rule_id"`
	RuleVersion string         `json:"rule_version,omitempty"`
	Title       string         `json:"title"`
	Level       string         `json:"level"`
	Tags        []string       `json:"tags,omitempty"`
	Techniques  []string       `json:"techniques,omitempty"`
	Entities    []string       `json:"entities,omitempty"`
	Time        string         `json:"time"`
	Explanation string         `json:"explanation"`
	Details     map[string]any `json:"details"`
}

// decode reads every event of a file (auto format); headers are skipped.
func decode(t *testing.T, path string) []*event.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := format.NewDecoder(f, "file:"+filepath.Base(path), format.DecoderOptions{})
	var out []*event.Event
	for {
		ev := event.New()
		err := dec.Next(ev)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, ev)
	}
}

func run(t *testing.T, d detect.Detector, evs []*event.Event) []signal.Signal {
	t.Helper()
	var out []signal.Signal
	for _, ev := range evs {
		if err := d.Detect(context.Background(), ev, func(s signal.Signal) { out = append(out, s) }); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestGolden: events in, signals out, for each case of testdata/cases.json.
// UPDATE_GOLDEN=1 rewrites testdata/golden/<case>.jsonl.
func TestGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name, Input string
		Config      map[string]any
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	spec, ok := detect.Lookup(ids.Kind)
	if !ok {
		t.Fatal("ids kind not registered")
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			d, err := spec.New(detect.Options{Config: c.Config})
			if err != nil {
				t.Fatal(err)
			}
			evs := decode(t, filepath.Join("testdata", c.Input))
			pos := map[string]int{}
			for i, ev := range evs {
				pos[ev.ID] = i
			}
			var buf bytes.Buffer
			for _, s := range run(t, d, evs) {
				if s.ID != signal.DeriveID(ids.Kind, s.RuleID, s.EventIDs...) || len(s.EventIDs) != 1 || s.Detector != ids.Kind || s.Layer != signal.LayerRules {
					t.Errorf("%s: id %s, evidence %v, detector %s/%s", s.RuleID, s.ID, s.EventIDs, s.Detector, s.Layer)
				}
				g := goldenSignal{Event: pos[s.EventIDs[0]], RuleID: s.RuleID, RuleVersion: s.RuleVersion, Title: s.Title,
					Level: string(s.Level), Tags: s.Tags, Techniques: s.Techniques, Time: s.Time.UTC().Format("2006-01-02T15:04:05.999999Z"),
					Explanation: s.Explanation, Details: s.Details}
				for _, e := range s.Entities {
					g.Entities = append(g.Entities, e.Kind+"="+e.Value)
				}
				line, err := json.Marshal(g)
				if err != nil {
					t.Fatal(err)
				}
				buf.Write(line)
				buf.WriteByte('\n')
			}
			gold := filepath.Join("testdata", "golden", c.Name+".jsonl")
			if os.Getenv("UPDATE_GOLDEN") != "" {
				if err := os.WriteFile(gold, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(gold)
			if err != nil {
				t.Fatalf("reading golden file (run with UPDATE_GOLDEN=1 to create it): %v", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("signals differ from %s:\ngot:\n%s\nwant:\n%s", gold, buf.Bytes(), want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	spec, _ := detect.Lookup(ids.Kind)
	for _, tc := range []struct {
		name string
		cfg  map[string]any
		want string
	}{
		{"unknown key", map[string]any{"levels": "x"}, `unknown config key "levels"`},
		{"bad level", map[string]any{"min_level": "severe"}, `unknown level "severe"`},
		{"bad severity", map[string]any{"suricata_levels": map[string]any{"0": "high"}}, `severity "0" is not 1..255`},
		{"severity level", map[string]any{"suricata_levels": map[string]any{"1": "urgent"}}, `suricata_levels.1: unknown level "urgent"`},
		{"levels not a map", map[string]any{"suricata_levels": []any{"high"}}, "want a map of severity to level"},
		{"notice level", map[string]any{"zeek_notice_levels": map[string]any{"Scan::Port_Scan": 3}}, "want a non-empty string"},
		{"bad source", map[string]any{"sources": []any{"snort"}}, `unknown item "snort"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := spec.New(detect.Options{Config: tc.cfg})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestSuricataSeverityTable: the default mapping (1 high, 2 medium, 3 low,
// others low) on otherwise identical alerts.
func TestSuricataSeverityTable(t *testing.T) {
	d, err := ids.New(ids.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sev  any
		want signal.Level
	}{{int64(1), signal.LevelHigh}, {int64(2), signal.LevelMedium}, {int64(3), signal.LevelLow}, {int64(4), signal.LevelLow}, {nil, signal.LevelLow}} {
		ev := event.New()
		ev.ID = "e"
		ev.Set("event.dataset", "suricata.eve")
		ev.Set("suricata.eve.event_type", "alert")
		ev.Set("suricata.eve.alert.signature_id", int64(1))
		if tc.sev != nil {
			ev.Set("suricata.eve.alert.severity", tc.sev)
		}
		got := run(t, d, []*event.Event{ev})
		if len(got) != 1 || got[0].Level != tc.want {
			t.Errorf("severity %v: got %+v, want one %s signal", tc.sev, got, tc.want)
		}
	}
}

// TestStratosphereNotices passes the real Zeek notices of the mixed
// captures through: by default only ranked notices become signals, and the
// informational ones (certificate validation, protocol on a non-standard
// port) are counted as below the minimum level.
func TestStratosphereNotices(t *testing.T) {
	root := testutil.SharedData(t, "stratosphere-zeek")
	d, err := ids.New(ids.Config{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range []string{"008-zeek-mixed", "010-zeek-mixed"} {
		evs := decode(t, filepath.Join(root, name, "data", "notice.log.labeled"))
		n += len(evs)
		if got := run(t, d, evs); len(got) != 0 {
			t.Errorf("%s: %d signals from informational notices", name, len(got))
		}
	}
	if st := d.Stats(); st.BelowMin != uint64(n) || n == 0 {
		t.Errorf("stats %+v for %d notices", st, n)
	}
	all, _ := ids.New(ids.Config{MinLevel: signal.LevelInformational})
	evs := decode(t, filepath.Join(root, "008-zeek-mixed", "data", "notice.log.labeled"))
	if got := run(t, all, evs); len(got) != len(evs) {
		t.Errorf("min_level informational: %d signals for %d notices", len(got), len(evs))
	}
	t.Logf("%d real notices, all informational by default", n)
}
