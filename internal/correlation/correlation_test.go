package correlation

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite golden files")

// plainField reads the Sigma field name as the event field name.
func plainField(ev *event.Event, f string) (string, bool) { return ev.GetString(f) }

// loadRules compiles the correlation documents of a multi-document file and
// returns the titles of its base rules by id and name.
func loadRules(t testing.TB, path string) ([]*Rule, map[string]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var rules []*Rule
	titles := map[string]string{}
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if IsCorrelation(&doc) {
			r, err := Compile(&doc, path)
			if err != nil {
				t.Fatal(err)
			}
			rules = append(rules, r)
			continue
		}
		var base struct{ ID, Name, Title string }
		if err := doc.Decode(&base); err != nil {
			t.Fatal(err)
		}
		titles[base.ID], titles[base.Name] = base.Title, base.Title
	}
	return rules, titles
}

type matchLine struct {
	T    time.Time         `json:"t"`
	ID   string            `json:"id"`
	Rule string            `json:"rule"`
	F    map[string]string `json:"f"`
}

type goldenSignal struct {
	ID          string          `json:"id"`
	RuleID      string          `json:"rule_id"`
	Title       string          `json:"title"`
	Level       signal.Level    `json:"level"`
	Time        time.Time       `json:"time"`
	Entities    []signal.Entity `json:"entities"`
	Techniques  []string        `json:"techniques,omitempty"`
	EventIDs    []string        `json:"event_ids"`
	Explanation string          `json:"explanation"`
	Details     map[string]any  `json:"details"`
}

// replay feeds the matches of a JSONL file to an engine over rules.
func replay(t testing.TB, rules []*Rule, titles map[string]string, path string) ([]signal.Signal, *Engine) {
	t.Helper()
	e, err := NewEngine(rules, plainField)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []signal.Signal
	emit := func(s signal.Signal) { out = append(out, s) }
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ml matchLine
		if err := json.Unmarshal(sc.Bytes(), &ml); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ev := event.New()
		ev.ID, ev.Time = ml.ID, ml.T
		for k, v := range ml.F {
			ev.Set(k, v)
		}
		m := Match{RuleID: ml.Rule, Title: titles[ml.Rule], Event: ev}
		if len(ml.Rule) < 32 { // the spec refers to some base rules by name, others by uuid
			m.RuleName, m.RuleID = ml.Rule, "id-"+ml.Rule
		}
		e.Observe(m, emit)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	e.Flush(emit)
	return out, e
}

// TestGolden replays testdata/golden/<case>.jsonl (base-rule matches with
// explicit times) through the correlation rules of <case>.yml and compares
// the signals with <case>.golden.json. Run with -update to rewrite, then
// review the diff: the expectations are written out in each .jsonl generator
// comment and asserted again in TestGoldenExpectations.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.yml")
	if len(files) == 0 {
		t.Fatal("no golden cases")
	}
	for _, yml := range files {
		name := strings.TrimSuffix(filepath.Base(yml), ".yml")
		t.Run(name, func(t *testing.T) {
			rules, titles := loadRules(t, yml)
			sigs, _ := replay(t, rules, titles, strings.TrimSuffix(yml, ".yml")+".jsonl")
			got := make([]goldenSignal, 0, len(sigs))
			for _, s := range sigs {
				if s.Detector != "sigma" || s.Layer != signal.LayerStateful || s.Score != 1 {
					t.Errorf("signal %s: detector %q layer %q score %v", s.ID, s.Detector, s.Layer, s.Score)
				}
				got = append(got, goldenSignal{s.ID, s.RuleID, s.Title, s.Level, s.Time, s.Entities, s.Techniques, s.EventIDs, s.Explanation, s.Details})
			}
			gotJSON, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			gp := strings.TrimSuffix(yml, ".yml") + ".golden.json"
			if *update {
				if err := os.WriteFile(gp, append(gotJSON, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(gp)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if d := cmp.Diff(strings.TrimSpace(string(want)), strings.TrimSpace(string(gotJSON))); d != "" {
				t.Errorf("signals differ from %s (-want +got):\n%s", gp, d)
			}
		})
	}
}

// TestGoldenExpectations states, independently of the golden files, which
// groups must fire in each case and which must not.
func TestGoldenExpectations(t *testing.T) {
	type fire struct {
		rule, explanationPart string
		nEvents               int
	}
	cases := map[string][]fire{
		"spec_failed_then_success": {
			{"b180ead8-d58f-40b2-ae54-c8940995b9b6", "for user alice", 11},
			{"b180ead8-d58f-40b2-ae54-c8940995b9b6", "for user dave", 11},
		},
		"spec_event_count": {{"0e95725d-7320-415d-80f7-004da920fc11", "100 events matching", 100}},
		"spec_value_count": {{"0e95725d-7320-415d-80f7-004da920fc12", "100 distinct User values", 100}},
		"spec_temporal": {
			{"corr-", "on host srv1 for user admin", 3},
			{"corr-", "on host srv2 for user admin", 3},
		},
		"spec_temporal_condition": {
			{"corr-", "on host srv1 for user admin", 2}, // a, c
			{"corr-", "on host srv2 for user admin", 2}, // a, b
			{"corr-", "on host srv2 for user admin", 2}, // c, a
			{"corr-", "on host srv1 for user guest", 2}, // a, b
		},
		"spec_aliases": {{"1b8b1ff8-8bd1-4a9e-8a33-0d1e1a4cf7c1", "from 10.0.0.5 to 203.0.113.9", 2}},
		"range_value_sum": {
			{"sum-bytes", "sum of BytesOut is 2100 over 2 events", 2},
			{"avg-bytes", "average of BytesOut is 1050 over 2 events", 2},
			{"sum-bytes", "sum of BytesOut is 1200 over 4 events", 4},
			{"range-uploads", "4 events matching \"upload\" on host h1", 4},
		},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			rules, titles := loadRules(t, "testdata/golden/"+name+".yml")
			sigs, _ := replay(t, rules, titles, "testdata/golden/"+name+".jsonl")
			if len(sigs) != len(want) {
				for _, s := range sigs {
					t.Logf("got %s: %s", s.RuleID, s.Explanation)
				}
				t.Fatalf("got %d signals, want %d", len(sigs), len(want))
			}
			for i, w := range want {
				s := sigs[i]
				if !strings.HasPrefix(s.RuleID, w.rule) || !strings.Contains(s.Explanation, w.explanationPart) || len(s.EventIDs) != w.nEvents {
					t.Errorf("signal %d: rule %s, %d events, %q; want rule %s…, %d events, explanation containing %q",
						i, s.RuleID, len(s.EventIDs), s.Explanation, w.rule, w.nEvents, w.explanationPart)
				}
			}
		})
	}
}

func compileString(t testing.TB, src string) (*Rule, error) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return Compile(&doc, "r.yml")
}

func TestCompileErrors(t *testing.T) {
	base := "title: t\ncorrelation:\n"
	cases := []struct{ name, src, want string }{
		{"no title", "correlation:\n  type: event_count\n", "r.yml:1: missing title"},
		{"no correlation", "title: t\n", "r.yml:1: missing correlation section"},
		{"unknown type", base + "  type: event_sum\n  rules: [a]\n  timespan: 5m\n  condition: {gte: 1}\n", "r.yml:3: unknown correlation type \"event_sum\""},
		{"missing type", base + "  rules: [a]\n  timespan: 5m\n", "r.yml:3: missing correlation.type"},
		{"missing rules", base + "  type: event_count\n  timespan: 5m\n  condition: {gte: 1}\n", "missing correlation.rules"},
		{"missing timespan", base + "  type: event_count\n  rules: [a]\n  condition: {gte: 1}\n", "r.yml:3: missing correlation.timespan"},
		{"bad timespan", base + "  type: event_count\n  rules: [a]\n  timespan: 5 minutes\n  condition: {gte: 1}\n", "r.yml:5: timespan \"5 minutes\""},
		{"zero timespan", base + "  type: event_count\n  rules: [a]\n  timespan: 0m\n  condition: {gte: 1}\n", "must be positive"},
		{"huge timespan", base + "  type: event_count\n  rules: [a]\n  timespan: 9999d\n  condition: {gte: 1}\n", "at most"},
		{"upper-case unit", base + "  type: event_count\n  rules: [a]\n  timespan: 5M\n  condition: {gte: 1}\n", "timespan \"5M\""},
		{"no condition", base + "  type: event_count\n  rules: [a]\n  timespan: 5m\n", "event_count needs a condition"},
		{"bad operator", base + "  type: event_count\n  rules: [a]\n  timespan: 5m\n  condition: {ge: 1}\n", "r.yml:6: unknown condition operator \"ge\""},
		{"not a number", base + "  type: event_count\n  rules: [a]\n  timespan: 5m\n  condition: {gte: many}\n", "r.yml:6: condition.gte: \"many\" is not a number"},
		{"empty range", base + "  type: event_count\n  rules: [a]\n  timespan: 5m\n  condition: {gt: 10, lt: 5}\n", "can never hold"},
		{"two lower bounds", base + "  type: event_count\n  rules: [a]\n  timespan: 5m\n  condition: {gt: 1, gte: 2}\n", "two lower bounds"},
		{"value_count no field", base + "  type: value_count\n  rules: [a]\n  timespan: 5m\n  condition: {gte: 2}\n", "value_count needs condition.field"},
		{"event_count with field", base + "  type: event_count\n  rules: [a]\n  timespan: 5m\n  condition: {gte: 2, field: x}\n", "event_count does not take a field"},
		{"temporal one rule", base + "  type: temporal\n  rules: [a]\n  timespan: 5m\n", "needs at least two rules"},
		{"expr unknown name", base + "  type: temporal\n  rules: [a, b]\n  timespan: 5m\n  condition: a and c\n", "r.yml:6: condition names \"c\""},
		{"expr syntax", base + "  type: temporal\n  rules: [a, b]\n  timespan: 5m\n  condition: a and (b\n", "missing )"},
		{"expr on count", base + "  type: event_count\n  rules: [a, b]\n  timespan: 5m\n  condition: a and b\n", "only allowed for temporal"},
		{"ordered count", base + "  type: temporal_ordered\n  rules: [a, b]\n  timespan: 5m\n  condition: {gte: 2}\n", "temporal_ordered takes no numeric condition"},
		{"unknown key", base + "  type: event_count\n  rules: [a]\n  timespan: 5m\n  condition: {gte: 1}\n  groupby: [x]\n", "r.yml:7: unknown key correlation.groupby"},
		{"alias unknown rule", base + "  type: temporal\n  rules: [a, b]\n  timespan: 5m\n  aliases:\n    ip:\n      c: source.ip\n", "alias \"ip\" names rule \"c\""},
		{"duplicate rule", base + "  type: temporal\n  rules: [a, a]\n  timespan: 5m\n", "lists \"a\" twice"},
		{"bad level", "title: t\nlevel: severe\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 5m\n  condition: {gte: 1}\n", "r.yml:2: level \"severe\""},
		{"rules not a list", base + "  type: event_count\n  rules: a\n  timespan: 5m\n  condition: {gte: 1}\n", "r.yml:4: correlation.rules must be a list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := compileString(t, c.src)
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to contain %q", err, c.want)
			}
			var ce *CompileError
			if !errors.As(err, &ce) || ce.Line == 0 {
				t.Errorf("error %v has no line", err)
			}
		})
	}
}

func TestCompileAccessors(t *testing.T) {
	r, err := compileString(t, "title: T\nname: n1\ngenerate: true\ntags: [attack.t1110.001]\nlevel: high\ncorrelation:\n  type: event_count\n  rules: [a, b]\n  group-by: [user.name]\n  timespan: 90m\n  condition: {gte: 3}\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.ID() != "name:n1" || r.Name() != "n1" || !r.Generate() || r.Timespan() != 90*time.Minute || r.Type() != EventCount {
		t.Errorf("accessors: id %q name %q generate %v span %v type %v", r.ID(), r.Name(), r.Generate(), r.Timespan(), r.Type())
	}
	if d := cmp.Diff([]string{"a", "b"}, r.Referenced()); d != "" {
		t.Error(d)
	}
	if d := cmp.Diff([]string{"T1110.001"}, r.techniques); d != "" {
		t.Error(d)
	}
}

func TestNewEngineErrors(t *testing.T) {
	mk := func(src string) *Rule {
		r, err := compileString(t, src)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a := mk("title: A\nname: ca\ncorrelation:\n  type: event_count\n  rules: [cb]\n  timespan: 5m\n  condition: {gte: 2}\n")
	b := mk("title: B\nname: cb\ncorrelation:\n  type: event_count\n  rules: [ca]\n  timespan: 5m\n  condition: {gte: 2}\n")
	if _, err := NewEngine([]*Rule{a, b}, plainField); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: got %v", err)
	}
	a2 := mk("title: A2\nname: ca\ncorrelation:\n  type: event_count\n  rules: [x]\n  timespan: 5m\n  condition: {gte: 2}\n")
	if _, err := NewEngine([]*Rule{a, a2}, plainField); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Errorf("duplicate: got %v", err)
	}
	big := mk("title: Big\ncorrelation:\n  type: event_count\n  rules: [x]\n  timespan: 5m\n  condition: {gte: 20000}\n")
	if _, err := NewEngine([]*Rule{big}, plainField); err == nil || !strings.Contains(err.Error(), "window entries") {
		t.Errorf("cap: got %v", err)
	}
	if _, err := NewEngine([]*Rule{a2}, nil); err == nil {
		t.Error("nil FieldFunc accepted")
	}
}

func mkEvent(id string, at time.Time, kv ...string) *event.Event {
	ev := event.New()
	ev.ID, ev.Time = id, at
	for i := 0; i+1 < len(kv); i += 2 {
		ev.Set(kv[i], kv[i+1])
	}
	return ev
}

// TestBoundedState checks group eviction, window expiry on event time and
// the evidence cap.
func TestBoundedState(t *testing.T) {
	r, err := compileString(t, "title: T\nid: t\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [user.name]\n  timespan: 1m\n  condition: {gte: 150}\n")
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngineWithLimits([]*Rule{r}, plainField, Limits{MaxGroups: 10, MaxEvents: 200, MaxEvidence: 100})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var sigs []signal.Signal
	emit := func(s signal.Signal) { sigs = append(sigs, s) }
	for i := 0; i < 50; i++ {
		e.Observe(Match{RuleID: "a", Event: mkEvent(fmt.Sprint("g", i), t0.Add(time.Duration(i)*time.Millisecond), "user.name", fmt.Sprint("u", i))}, emit)
	}
	if st := e.Stats(); st.GroupsEvicted != 40 || len(e.rules[0].groups) != 10 {
		t.Errorf("evicted %d, groups %d; want 40 and 10", st.GroupsEvicted, len(e.rules[0].groups))
	}
	// Event time moving past the window drops idle groups.
	e.Advance(t0.Add(2*time.Minute), emit)
	if n := len(e.rules[0].groups); n != 0 {
		t.Errorf("%d groups left after expiry", n)
	}
	for i := 0; i < 150; i++ {
		e.Observe(Match{RuleID: "a", Event: mkEvent(fmt.Sprint("x", i), t0.Add(3*time.Minute+time.Duration(i)*100*time.Millisecond), "user.name", "bob")}, emit)
	}
	if len(sigs) != 1 {
		t.Fatalf("%d signals, want 1", len(sigs))
	}
	s := sigs[0]
	if len(s.EventIDs) != 100 || s.EventIDs[0] != "x0" || s.EventIDs[99] != "x149" || s.Details["evidence_total"] != 150 {
		t.Errorf("evidence: %d ids, first %s last %s, total %v", len(s.EventIDs), s.EventIDs[0], s.EventIDs[len(s.EventIDs)-1], s.Details["evidence_total"])
	}
	if d := cmp.Diff([]signal.Entity{{Kind: "user", Value: "bob"}}, s.Entities); d != "" {
		t.Error(d)
	}
	if !s.Time.Equal(t0.Add(3*time.Minute + 14900*time.Millisecond)) {
		t.Errorf("time %v", s.Time)
	}
	// Events without time are counted, not windowed.
	e.Observe(Match{RuleID: "a", Event: mkEvent("nt", time.Time{}, "user.name", "bob")}, emit)
	if e.Stats().NoTime != 1 {
		t.Error("no-time match not counted")
	}
}

// TestSlidingWindow: events spread wider than the timespan never fire, and
// a replay gives the same signal ids.
func TestSlidingWindow(t *testing.T) {
	r, err := compileString(t, "title: T\nid: t\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [source.ip]\n  timespan: 5m\n  condition: {gte: 3}\n")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	run := func(offsets ...time.Duration) []signal.Signal {
		e, err := NewEngine([]*Rule{r}, plainField)
		if err != nil {
			t.Fatal(err)
		}
		var out []signal.Signal
		for i, o := range offsets {
			e.Observe(Match{RuleID: "a", Event: mkEvent(fmt.Sprint("e", i), t0.Add(o), "source.ip", "10.0.0.1")}, func(s signal.Signal) { out = append(out, s) })
		}
		return out
	}
	if s := run(0, 3*time.Minute, 6*time.Minute, 9*time.Minute, 12*time.Minute); len(s) != 0 {
		t.Errorf("spread events fired: %v", s[0].Explanation)
	}
	a := run(0, 3*time.Minute, 5*time.Minute)
	b := run(0, 3*time.Minute, 5*time.Minute)
	if len(a) != 1 || len(b) != 1 || a[0].ID != b[0].ID {
		t.Fatalf("replay: %d and %d signals", len(a), len(b))
	}
	if want := `3 events matching "a" from 10.0.0.1 within 5m (threshold ≥ 3)`; a[0].Explanation != want {
		t.Errorf("explanation %q, want %q", a[0].Explanation, want)
	}
}

func TestParseExpr(t *testing.T) {
	seen := map[string]bool{"a": true, "b": false, "c": true}
	f := func(n string) bool { return seen[n] }
	for src, want := range map[string]bool{
		"a": true, "b": false, "a and b": false, "a or b": true, "a AND NOT b": true,
		"not (a or b)": false, "b or c and a": true, "(b or c) and not a": false,
	} {
		e, err := parseExpr(src)
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if got := e.eval(f); got != want {
			t.Errorf("%q = %v, want %v", src, got, want)
		}
	}
	for _, bad := range []string{"", "a and", "(a", "a b", "and", "a | b", strings.Repeat("(", 40) + "a" + strings.Repeat(")", 40)} {
		if _, err := parseExpr(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// FuzzCompile: any YAML input compiles or fails with an error, never panics,
// and a compiled rule runs on a few matches.
func FuzzCompile(f *testing.F) {
	files, _ := filepath.Glob("testdata/golden/*.yml")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 64<<10 {
			return
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		var rules []*Rule
		for i := 0; i < 16; i++ {
			var doc yaml.Node
			if err := dec.Decode(&doc); err != nil {
				break
			}
			r, err := Compile(&doc, "fuzz.yml")
			if err != nil {
				if !strings.HasPrefix(err.Error(), "fuzz.yml:") {
					t.Errorf("error without position: %v", err)
				}
				continue
			}
			rules = append(rules, r)
		}
		e, err := NewEngine(rules, plainField)
		if err != nil {
			return
		}
		t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		for i, r := range rules {
			for _, ref := range r.Referenced() {
				e.Observe(Match{RuleID: ref, RuleName: ref, Event: mkEvent(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second), "User", "u", "BytesOut", "5")}, func(signal.Signal) {})
			}
		}
		e.Flush(func(signal.Signal) {})
	})
}

// BenchmarkObserve measures one base match through an event_count rule
// grouped by source address (1000 groups, sliding 5m window).
func BenchmarkObserve(b *testing.B) {
	r, err := compileString(b, "title: T\nid: t\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [source.ip]\n  timespan: 5m\n  condition: {gte: 1000000}\n")
	if err != nil {
		b.Fatal(err)
	}
	e, err := NewEngineWithLimits([]*Rule{r}, plainField, Limits{MaxEvents: 2000000})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := make([]*event.Event, 1000)
	for i := range evs {
		evs[i] = mkEvent("e", t0, "source.ip", fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	emit := func(signal.Signal) {}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := evs[i%len(evs)]
		ev.Time = t0.Add(time.Duration(i) * time.Millisecond)
		e.Observe(Match{RuleID: "a", Event: ev}, emit)
	}
}

// observeAll feeds (rule, offset seconds, field pairs) matches to e.
type m struct {
	rule string
	sec  int
	kv   []string
}

func feed(e *Engine, ms []m) []signal.Signal {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var out []signal.Signal
	emit := func(s signal.Signal) { out = append(out, s) }
	for i, x := range ms {
		e.Observe(Match{RuleID: "id-" + x.rule, RuleName: x.rule, Title: x.rule, Event: mkEvent(fmt.Sprint("e", i), t0.Add(time.Duration(x.sec)*time.Second), x.kv...)}, emit)
	}
	e.Flush(emit)
	return out
}

func mustEngine(t *testing.T, srcs ...string) *Engine {
	t.Helper()
	var rules []*Rule
	for _, s := range srcs {
		r, err := compileString(t, s)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	e, err := NewEngine(rules, plainField)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestSemantics(t *testing.T) {
	inner := "title: Inner\nname: inner\n%scorrelation:\n  type: event_count\n  rules: [fail]\n  group-by: [user.name]\n  timespan: 1m\n  condition: {gte: 3}\n"
	outer := "title: Outer\nid: outer\n%scorrelation:\n  type: temporal_ordered\n  rules: [inner, ok]\n  group-by: [user.name]\n  timespan: 5m\n"
	u := []string{"user.name", "amy", "source.ip", "192.0.2.7"}
	chain := []m{{"fail", 0, u}, {"fail", 10, u}, {"fail", 20, u}, {"ok", 30, u}}
	type tc struct {
		name  string
		rules []string
		ms    []m
		want  []string // rule ids of the signals, in order
	}
	cases := []tc{
		{"chain emits only the outer rule", []string{fmt.Sprintf(inner, ""), fmt.Sprintf(outer, "")}, chain, []string{"outer"}},
		{"generate: true lets the inner rule report too", []string{fmt.Sprintf(inner, ""), fmt.Sprintf(outer, "generate: true\n")}, chain, []string{"name:inner", "outer"}},
		{"success before the failures does not count", []string{fmt.Sprintf(inner, ""), fmt.Sprintf(outer, "")},
			[]m{{"ok", 0, u}, {"fail", 10, u}, {"fail", 20, u}, {"fail", 30, u}}, nil},
		{"outer group-by read from the completing event", []string{
			fmt.Sprintf(inner, ""),
			"title: ByIP\nid: byip\ncorrelation:\n  type: temporal_ordered\n  rules: [inner, ok]\n  group-by: [source.ip]\n  timespan: 5m\n"},
			chain, []string{"byip"}},
		{"negation judged at window close", []string{"title: N\nid: n\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  group-by: [user.name]\n  timespan: 1m\n  condition: a and not b\n"},
			[]m{{"a", 0, u}, {"b", 10, u}, {"a", 100, []string{"user.name", "bo"}}}, []string{"n"}},
		{"lt fires only for quiet groups, at window close", []string{"title: L\nid: l\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [user.name]\n  timespan: 1m\n  condition: {lt: 3}\n"},
			[]m{{"a", 0, u}, {"a", 1, u}, {"a", 2, u}, {"a", 3, []string{"user.name", "bo"}}}, []string{"l"}},
		{"value_count slides", []string{"title: V\nid: v\ncorrelation:\n  type: value_count\n  rules: [a]\n  group-by: [source.ip]\n  timespan: 1m\n  condition: {field: user.name, gte: 3}\n"},
			[]m{{"a", 0, []string{"source.ip", "1.1.1.1", "user.name", "x"}}, {"a", 30, []string{"source.ip", "1.1.1.1", "user.name", "y"}},
				{"a", 70, []string{"source.ip", "1.1.1.1", "user.name", "z"}}, {"a", 80, []string{"source.ip", "1.1.1.1", "user.name", "y"}},
				{"a", 85, []string{"source.ip", "1.1.1.1", "user.name", "w"}}}, []string{"v"}},
		{"eq at window close", []string{"title: E\nid: eq\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 1m\n  condition: {eq: 2}\n"},
			[]m{{"a", 0, nil}, {"a", 5, nil}, {"a", 61, nil}, {"a", 62, nil}, {"a", 63, nil}}, []string{"eq"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, s := range feed(mustEngine(t, c.rules...), c.ms) {
				got = append(got, s.RuleID)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("signals (-want +got):\n%s", d)
			}
		})
	}
}

// TestGeneratePlacement: spec v2.0.x has generate beside level, pySigma
// reads it inside correlation; both are accepted, a contradiction is not.
func TestGeneratePlacement(t *testing.T) {
	body := "  type: event_count\n  rules: [a]\n  group-by: [user.name]\n  timespan: 5m\n  condition: {gte: 3}\n"
	for _, tc := range []struct {
		name, top, inner string
		want, wantErr    bool
	}{
		{"default", "", "", false, false},
		{"top level", "generate: true\n", "", true, false},
		{"inside correlation", "", "  generate: true\n", true, false},
		{"inside false", "", "  generate: false\n", false, false},
		{"both agree", "generate: true\n", "  generate: true\n", true, false},
		{"both contradict", "generate: false\n", "  generate: true\n", false, true},
		{"not a bool", "", "  generate: yes please\n", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := compileString(t, "title: T\n"+tc.top+"correlation:\n"+body+tc.inner)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && r.Generate() != tc.want {
				t.Errorf("Generate() = %v, want %v", r.Generate(), tc.want)
			}
		})
	}
}
