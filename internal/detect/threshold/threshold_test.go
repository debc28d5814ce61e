package threshold

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite golden files")

func bundledRules() string { return filepath.Join(testutil.ModuleRoot(), "rules", "threshold") }

// readEvents reads JSONL test events: "@timestamp", "id", and flat ECS fields
// (numbers become int64, lists []string).
func readEvents(t testing.TB, path string) []*event.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*event.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ev := event.New()
		for k, v := range m {
			switch k {
			case "@timestamp":
				ts, err := time.Parse(time.RFC3339Nano, v.(string))
				if err != nil {
					t.Fatal(err)
				}
				ev.Time = ts
			case "id":
				ev.ID = v.(string)
			default:
				switch x := v.(type) {
				case json.Number:
					n, err := x.Int64()
					if err != nil {
						t.Fatal(err)
					}
					ev.Set(k, n)
				case []any:
					var l []string
					for _, s := range x {
						l = append(l, s.(string))
					}
					ev.Set(k, l)
				default:
					ev.Set(k, x)
				}
			}
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func run(t testing.TB, d *Detector, evs []*event.Event) []signal.Signal {
	t.Helper()
	var out []signal.Signal
	for _, ev := range evs {
		if err := d.Detect(context.Background(), ev, func(s signal.Signal) { out = append(out, s) }); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestGolden replays testdata/events.jsonl (scenarios, by address: brute force, typos, slow guesser, enumeration,
// spraying, sudo, web scan, Windows 4625) through the bundled rules and
// compares the signals with testdata/events.golden.json (-update rewrites).
func TestGolden(t *testing.T) {
	d, err := New(Options{Paths: []string{bundledRules()}})
	if err != nil {
		t.Fatal(err)
	}
	sigs := run(t, d, readEvents(t, "testdata/events.jsonl"))

	// Independent expectations: which rule fires for which entity, how often.
	type key struct{ rule, entity string }
	got := map[key]int{}
	for _, s := range sigs {
		if s.Detector != "threshold" || s.Layer != signal.LayerStateful || len(s.EventIDs) == 0 || s.ID == "" {
			t.Errorf("malformed signal %+v", s)
		}
		got[key{s.RuleID, s.Entities[0].Value}]++
	}
	want := map[key]int{
		{"ssh-brute-force", "203.0.113.7"}:         2, // once, then again after the cooldown
		{"ssh-password-spraying", "203.0.113.7"}:   0,
		{"ssh-user-enumeration", "203.0.113.50"}:   1,
		{"ssh-password-spraying", "198.51.100.77"}: 1,
		{"sudo-auth-failures", "alice"}:            1,
		{"web-scan-errors", "10.9.9.9"}:            1,
		{"web-scan-paths", "10.9.9.9"}:             1,
		{"windows-failed-logons", "10.1.1.1"}:      1,
		{"windows-failed-logons-account", "DC01"}:  1, // 35 failures for administrator, local and remote
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s for %s: %d signals, want %d", k.rule, k.entity, got[k], n)
		}
		delete(got, k)
	}
	for k, n := range got {
		if n > 0 {
			t.Errorf("unexpected: %s for %s fired %d times", k.rule, k.entity, n)
		}
	}
	if len(sigs) > 0 {
		if want := "6 failed SSH logins from 203.0.113.7 in 10s (capacity 5)"; sigs[0].Explanation != want {
			t.Errorf("first explanation %q, want %q", sigs[0].Explanation, want)
		}
	}

	b, err := json.MarshalIndent(sigs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	const gp = "testdata/events.golden.json"
	if *update {
		if err := os.WriteFile(gp, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantJSON, err := os.ReadFile(gp)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if d := cmp.Diff(strings.TrimSpace(string(wantJSON)), strings.TrimSpace(string(b))); d != "" {
		t.Errorf("signals differ from %s (-want +got):\n%s", gp, d)
	}
}

// TestReplayDeterministic: a second detector over the same events gives the
// same signal ids (event time only, no wall clock).
func TestReplayDeterministic(t *testing.T) {
	evs := readEvents(t, "testdata/events.jsonl")
	var ids [2][]string
	for i := range ids {
		d, err := New(Options{Paths: []string{bundledRules()}})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range run(t, d, evs) {
			ids[i] = append(ids[i], s.ID)
		}
	}
	if d := cmp.Diff(ids[0], ids[1]); d != "" || len(ids[0]) == 0 {
		t.Errorf("replay differs: %s", d)
	}
}

func TestRuleErrors(t *testing.T) {
	ok := "id: r\ntitle: T\nfilter: {event.action: x}\ngroup_by: [source.ip]\ncapacity: 3\nleak_speed: 10s\n"
	if _, err := ParseRules([]byte(ok), "ok.yml"); err != nil {
		t.Fatalf("valid rule: %v", err)
	}
	cases := []struct{ name, src, want string }{
		{"unknown key", ok + "window: 5m\n", "r.yml:7: unknown key \"window\""},
		{"missing id", strings.Replace(ok, "id: r\n", "", 1), "r.yml:1: missing id"},
		{"bad id", strings.Replace(ok, "id: r", "id: \"a b\"", 1), "r.yml:1: id \"a b\""},
		{"missing capacity", strings.Replace(ok, "capacity: 3\n", "", 1), "missing capacity"},
		{"zero capacity", strings.Replace(ok, "capacity: 3", "capacity: 0", 1), "r.yml:5: capacity must be"},
		{"text capacity", strings.Replace(ok, "capacity: 3", "capacity: lots", 1), "r.yml:5: capacity must be"},
		{"bad leak", strings.Replace(ok, "10s", "10 seconds", 1), "r.yml:6: leak_speed: \"10 seconds\" is not a duration"},
		{"zero leak", strings.Replace(ok, "10s", "0s", 1), "leak_speed must be positive"},
		{"negative cooldown", ok + "cooldown: -1m\n", "r.yml:7: cooldown"},
		{"no filter", strings.Replace(ok, "filter: {event.action: x}\n", "", 1), "needs a filter or exists"},
		{"no group", strings.Replace(ok, "group_by: [source.ip]\n", "", 1), "needs group_by"},
		{"nested filter", strings.Replace(ok, "{event.action: x}", "{event: {action: x}}", 1), "r.yml:3: filter.event must be a value or a list"},
		{"bad level", ok + "level: urgent\n", "r.yml:7: level \"urgent\""},
		{"not a mapping", "- a\n- b\n", "r.yml:1: a threshold rule must be a mapping"},
		{"yaml syntax", "id: [\n", "r.yml: yaml:"},
		{"duplicate key", ok + "capacity: 4\n", "r.yml:7: duplicate key \"capacity\""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRules([]byte(c.src), "r.yml")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestLoadRulesDuplicateID(t *testing.T) {
	dir := t.TempDir()
	r := "id: r\ntitle: T\nfilter: {event.action: x}\ngroup_by: [source.ip]\ncapacity: 3\nleak_speed: 10s\n"
	for _, n := range []string{"a.yml", "b.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(r), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := LoadRules(dir)
	if err == nil || !strings.Contains(err.Error(), "b.yaml:1: rule id \"r\" already defined at") {
		t.Errorf("got %v", err)
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New without paths succeeded")
	}
	if _, err := New(Options{Paths: []string{filepath.Join(dir, "missing.yml")}}); err == nil {
		t.Error("missing path accepted")
	}
}

func TestBundledRulesLoad(t *testing.T) {
	rules, err := LoadRules(bundledRules())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, r := range rules {
		ids[r.ID] = true
		if len(r.Techniques) == 0 {
			t.Errorf("%s has no ATT&CK technique tag", r.ID)
		}
	}
	for _, id := range []string{"ssh-brute-force", "ssh-user-enumeration", "ssh-password-spraying", "sudo-auth-failures", "web-scan-errors", "web-scan-paths", "windows-failed-logons",
		"windows-failed-logons-account", "windows-kerberos-preauth-failures", "windows-explicit-credential-spray"} {
		if !ids[id] {
			t.Errorf("bundled rule %s missing", id)
		}
	}
}

func mkEv(id string, at time.Time, kv ...any) *event.Event {
	ev := event.New()
	ev.ID, ev.Time = id, at
	for i := 0; i+1 < len(kv); i += 2 {
		ev.Set(kv[i].(string), kv[i+1])
	}
	return ev
}

func oneRule(t testing.TB, src string) []*Rule {
	t.Helper()
	rs, err := ParseRules([]byte(src), "t.yml")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestBucketSemantics checks leaking, overflow, cooldown, evidence caps and
// eviction against hand-computed values.
func TestBucketSemantics(t *testing.T) {
	rs := oneRule(t, "id: r\ntitle: T\nfilter: {event.action: fail}\ngroup_by: [source.ip]\ncapacity: 3\nleak_speed: 10s\ncooldown: 1m\n")
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		offsets []time.Duration // event times of one address
		want    int             // signals
	}{
		{"burst overflows at the 4th", []time.Duration{0, 1 * time.Second, 2 * time.Second, 3 * time.Second}, 1},
		{"three never overflow", []time.Duration{0, time.Second, 2 * time.Second}, 0},
		{"leaks between events", []time.Duration{0, 10 * time.Second, 20 * time.Second, 30 * time.Second, 40 * time.Second, 50 * time.Second}, 0},
		{"cooldown swallows the rest", []time.Duration{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 1},
		{"fires again after cooldown", []time.Duration{0, 1, 2, 3, 64 * time.Second, 65 * time.Second, 66 * time.Second, 67 * time.Second}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewFromRules(rs, Options{})
			var evs []*event.Event
			for i, o := range c.offsets {
				if o < time.Second && o > 0 {
					o *= time.Second // small integers in the table are seconds
				}
				evs = append(evs, mkEv(fmt.Sprint("e", i), t0.Add(o), "event.action", "fail", "source.ip", "192.0.2.1"))
			}
			if got := len(run(t, d, evs)); got != c.want {
				t.Errorf("%d signals, want %d", got, c.want)
			}
		})
	}

	// Evidence is capped (first half and last half kept) and eviction is counted.
	big := oneRule(t, "id: r\ntitle: T\nfilter: {event.action: fail}\ngroup_by: [source.ip]\ncapacity: 300\nleak_speed: 1h\n")
	d := NewFromRules(big, Options{MaxEvidence: 10, MaxBuckets: 5})
	var evs []*event.Event
	for i := 0; i < 301; i++ {
		evs = append(evs, mkEv(fmt.Sprint("e", i), t0.Add(time.Duration(i)*time.Millisecond), "event.action", "fail", "source.ip", "192.0.2.1"))
	}
	sigs := run(t, d, evs)
	if len(sigs) != 1 {
		t.Fatalf("%d signals", len(sigs))
	}
	if d := cmp.Diff([]string{"e0", "e1", "e2", "e3", "e4", "e296", "e297", "e298", "e299", "e300"}, sigs[0].EventIDs); d != "" {
		t.Errorf("evidence: %s", d)
	}
	if sigs[0].Details["count"] != 301 {
		t.Errorf("count %v", sigs[0].Details["count"])
	}
	for i := 0; i < 10; i++ {
		run(t, d, []*event.Event{mkEv("x", t0.Add(time.Second), "event.action", "fail", "source.ip", fmt.Sprint("10.0.0.", i))})
	}
	if st := d.Stats(); st.Buckets != 5 || st.Evicted != 6 {
		t.Errorf("stats %+v: want 5 buckets, 6 evicted", st)
	}
	// Missing group field and missing time are counted, not silently lost.
	run(t, d, []*event.Event{mkEv("n1", t0.Add(2*time.Second), "event.action", "fail"), mkEv("n2", time.Time{}, "event.action", "fail", "source.ip", "1.2.3.4")})
	if st := d.Stats(); st.NoGroupField != 1 || st.NoTime != 1 {
		t.Errorf("stats %+v: want 1 no-group, 1 no-time", st)
	}
}

func TestBucketsExpire(t *testing.T) {
	rs := oneRule(t, "id: r\ntitle: T\nfilter: {event.action: fail}\ngroup_by: [source.ip]\ncapacity: 3\nleak_speed: 10s\n")
	d := NewFromRules(rs, Options{})
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 100; i++ {
		run(t, d, []*event.Event{mkEv("e", t0.Add(time.Duration(i)*time.Second), "event.action", "fail", "source.ip", fmt.Sprint("10.0.", i/250, ".", i%250))})
	}
	run(t, d, []*event.Event{mkEv("e", t0.Add(time.Hour), "event.action", "other")})
	if n := d.Stats().Buckets; n != 0 {
		t.Errorf("%d buckets left after an hour of event time", n)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.yml")
	write := func(s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rule := "id: r\ntitle: T\nfilter: {event.action: fail}\ngroup_by: [source.ip]\ncapacity: 3\nleak_speed: 1h\n"
	write(rule)
	d, err := New(Options{Paths: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(i int) *event.Event {
		return mkEv(fmt.Sprint("e", i), t0.Add(time.Duration(i)*time.Second), "event.action", "fail", "source.ip", "192.0.2.1")
	}
	run(t, d, []*event.Event{ev(0), ev(1)})
	write("id: r\ntitle: T\nbogus: 1\n")
	if err := d.Reload(context.Background()); err == nil {
		t.Fatal("broken reload accepted")
	}
	write(rule + "# comment only\n")
	if err := d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Unchanged rule keeps its bucket: two more events overflow (level 4 > 3).
	if n := len(run(t, d, []*event.Event{ev(2), ev(3)})); n != 1 {
		t.Errorf("%d signals after reload, want 1 (state kept)", n)
	}
	var _ detect.Reloader = d
}

func TestRegistered(t *testing.T) {
	spec, ok := detect.Lookup("threshold")
	if !ok {
		t.Fatal("threshold kind not registered")
	}
	det, err := spec.New(detect.Options{RulePaths: []string{bundledRules()}, Config: map[string]any{"max_buckets": int64(50)}})
	if err != nil {
		t.Fatal(err)
	}
	if det.Name() != "threshold" || det.(*Detector).opts.MaxBuckets != 50 {
		t.Error("factory options not applied")
	}
	if _, err := spec.New(detect.Options{RulePaths: []string{bundledRules()}, Config: map[string]any{"max_bucket": 5}}); err == nil {
		t.Error("unknown config key accepted")
	}
}

// FuzzParseRules: arbitrary rule files parse or fail with a positioned
// error; parsed rules run on an event without panicking.
func FuzzParseRules(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(bundledRules(), "*.yml"))
	seeds, _ := filepath.Glob("testdata/rules/*.yml")
	for _, p := range append(files, seeds...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := ParseRules(b, "f.yml")
		if err != nil {
			var re *RuleError
			if !errors.As(err, &re) && !strings.HasPrefix(err.Error(), "f.yml: ") {
				t.Errorf("error without position: %v", err)
			}
			return
		}
		d := NewFromRules(rs, Options{MaxBuckets: 8})
		t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := 0; i < 20; i++ {
			ev := mkEv("e", t0.Add(time.Duration(i)*time.Second), "source.ip", "1.2.3.4", "user.name", fmt.Sprint("u", i))
			for _, r := range rs {
				for k, v := range r.Filter {
					ev.Set(k, v[0])
				}
			}
			run(t, d, []*event.Event{ev})
		}
	})
}

// BenchmarkDetect measures one matching event through the bundled rules,
// spread over 1000 source addresses.
func BenchmarkDetect(b *testing.B) {
	d, err := New(Options{Paths: []string{bundledRules()}})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := make([]*event.Event, 1000)
	for i := range evs {
		evs[i] = mkEv("e", t0, "event.dataset", "system.auth", "event.action", "ssh_login", "event.outcome", "failure",
			"source.ip", fmt.Sprintf("10.0.%d.%d", i/256, i%256), "user.name", "root")
	}
	emit := func(signal.Signal) {}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := evs[i%len(evs)]
		ev.Time = t0.Add(time.Duration(i) * time.Millisecond)
		_ = d.Detect(ctx, ev, emit)
	}
}

// TestSharedFields: rules read each field of an event once per Detect (the
// filter, exists, exclude, group_by and distinct fields share one cache);
// one rule excluding or lacking a value must not change what another rule,
// reading the same field, sees.
func TestSharedFields(t *testing.T) {
	rs, err := ParseRules([]byte(`id: a
title: A
filter: {event.action: fail}
exists: [source.ip]
exclude: {source.ip: ["127.0.0.1"]}
group_by: [source.ip]
capacity: 1
leak_speed: 1h
---
id: b
title: B
filter: {event.action: fail}
group_by: [source.ip]
distinct: user.name
capacity: 1
leak_speed: 1h
---
id: c
title: C
filter: {event.action: fail}
exists: [user.name]
group_by: [event.action]
capacity: 1
leak_speed: 1h
`), "t.yml")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		kv   []any // fields of both events, besides event.action
		want []string
	}{
		{"excluded address still counts for b and c", []any{"source.ip", "127.0.0.1"}, []string{"b", "c"}},
		{"listed address", []any{"source.ip", "192.0.2.1"}, []string{"a", "b", "c"}},
		{"list value is excluded too", []any{"source.ip", []string{"10.0.0.1", "127.0.0.1"}}, []string{"b", "c"}},
		{"no address: only c", []any{}, []string{"c"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewFromRules(rs, Options{})
			var evs []*event.Event
			for i, user := range []string{"u1", "u2"} {
				kv := append([]any{"event.action", "fail", "user.name", user}, c.kv...)
				evs = append(evs, mkEv(fmt.Sprint("e", i), t0.Add(time.Duration(i)*time.Second), kv...))
			}
			var got []string
			for _, s := range run(t, d, evs) {
				got = append(got, s.RuleID)
			}
			slices.Sort(got)
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("rules fired (-want +got):\n%s", d)
			}
		})
	}
}
