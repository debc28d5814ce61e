package sigma

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

const whoamiRule = `title: Whoami
id: 11111111-1111-4111-8111-111111111111
status: test
level: high
tags: [attack.discovery, attack.t1033]
logsource:
    product: windows
    category: process_creation
detection:
    sel:
        Image|endswith: '\whoami.exe'
    filter:
        User|startswith: 'ADM_'
    condition: sel and not filter
`

func sysmonProc(image, user string) *event.Event {
	ev := event.New()
	ev.ID = "evid-" + image
	ev.Time = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	ev.Set("event.module", "windows")
	ev.Set("winlog.channel", "Microsoft-Windows-Sysmon/Operational")
	ev.Set("winlog.event_id", int64(1))
	ev.Set("winlog.event_data.Image", image)
	ev.Set("winlog.event_data.User", user)
	ev.Set("process.executable", image)
	ev.Set("user.name", user)
	ev.Set("host.name", "ws1")
	return ev
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func detectAll(t *testing.T, d *Detector, ev *event.Event) []signal.Signal {
	t.Helper()
	var out []signal.Signal
	if err := d.Detect(context.Background(), ev, func(s signal.Signal) { out = append(out, s) }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDetectorSignal(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "whoami.yml", whoamiRule)
	d, err := New(Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Name() != "sigma" || d.Rules() != 1 {
		t.Fatalf("name %q rules %d", d.Name(), d.Rules())
	}
	ev := sysmonProc(`C:\Windows\System32\WHOAMI.EXE`, "bob")
	sigs := detectAll(t, d, ev)
	if len(sigs) != 1 {
		t.Fatalf("got %d signals, want 1", len(sigs))
	}
	s := sigs[0]
	ruleID := "11111111-1111-4111-8111-111111111111"
	want := signal.Signal{
		ID: signal.DeriveID("sigma", ruleID, ev.ID), Detector: "sigma", Layer: signal.LayerRules,
		RuleID: ruleID, RuleVersion: s.RuleVersion, Title: "Whoami", Level: signal.LevelHigh, Score: 1,
		Tags: []string{"attack.discovery", "attack.t1033"}, Techniques: []string{"T1033"},
		Entities: []signal.Entity{{Kind: "user", Value: "bob"}, {Kind: "host", Value: "ws1"}, {Kind: "process", Value: `C:\Windows\System32\WHOAMI.EXE`}},
		Time:     ev.Time, EventIDs: []string{ev.ID}, Explanation: s.Explanation, Details: s.Details,
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("signal (-want +got):\n%s", diff)
	}
	if len(s.RuleVersion) != 16 {
		t.Errorf("rule version %q", s.RuleVersion)
	}
	if !strings.Contains(s.Explanation, `Image|endswith`) || !strings.Contains(s.Explanation, `WHOAMI.EXE`) || strings.Contains(s.Explanation, "ADM_") {
		t.Errorf("explanation %q", s.Explanation)
	}
	if m := s.Details["matched"].([]Matched); len(m) != 1 || m[0].Field != "Image" {
		t.Errorf("details %v", s.Details)
	}
	// The filter excludes administrators.
	if got := detectAll(t, d, sysmonProc(`C:\Windows\System32\whoami.exe`, "adm_root")); len(got) != 0 {
		t.Errorf("filtered event raised %d signals", len(got))
	}
}

func TestLogsourceRouting(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "whoami.yml", whoamiRule)
	d, err := New(Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	sec := event.New()
	sec.ID = "s"
	sec.Set("winlog.channel", "Security")
	sec.Set("winlog.event_id", int64(4688))
	sec.Set("winlog.event_data.NewProcessName", `C:\Windows\System32\whoami.exe`)
	net := sysmonProc(`C:\Windows\System32\whoami.exe`, "bob")
	net.Set("winlog.event_id", int64(3))
	other := sysmonProc(`C:\Windows\System32\whoami.exe`, "bob")
	other.Set("winlog.channel", "Application")
	tests := []struct {
		name string
		ev   *event.Event
		want int
	}{
		{"security 4688 with NewProcessName", sec, 1},
		{"sysmon network connection", net, 0},
		{"other channel", other, 0},
	}
	for _, tc := range tests {
		if got := len(d.Matches(tc.ev)); got != tc.want {
			t.Errorf("%s: %d matches, want %d", tc.name, got, tc.want)
		}
	}
}

func TestFilterDocumentAndExceptions(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "whoami.yml", whoamiRule)
	writeFile(t, dir, "filter.yml", `title: Not on build servers
logsource:
    product: windows
    category: process_creation
filter:
    rules:
        - 11111111-1111-4111-8111-111111111111
    selection:
        Computer|startswith: 'BUILD'
    condition: not selection
`)
	exc := writeFile(t, t.TempDir(), "exceptions.yml", `- rule: 11111111-1111-4111-8111-111111111111
  field: User|endswith
  values: ['svc_scan']
`)
	d, err := New(Options{Paths: []string{dir}, ExceptionsFile: exc})
	if err != nil {
		t.Fatal(err)
	}
	if rep := d.Report(); rep.Loaded != 2 || rep.Failed != 0 {
		t.Fatalf("report %+v", rep)
	}
	build := sysmonProc(`C:\Windows\System32\whoami.exe`, "bob")
	build.Set("winlog.computer_name", "build07")
	scan := sysmonProc(`C:\Windows\System32\whoami.exe`, `CORP\svc_scan`)
	plain := sysmonProc(`C:\Windows\System32\whoami.exe`, "bob")
	for _, tc := range []struct {
		name string
		ev   *event.Event
		want int
	}{{"filter document", build, 0}, {"exception", scan, 0}, {"neither", plain, 1}} {
		if got := len(d.Matches(tc.ev)); got != tc.want {
			t.Errorf("%s: %d matches, want %d", tc.name, got, tc.want)
		}
	}
	bad := writeFile(t, t.TempDir(), "bad.yml", "- rule: x\n")
	if _, err := New(Options{Paths: []string{dir}, ExceptionsFile: bad}); err != nil {
		t.Fatal(err)
	}
	d2, _ := New(Options{Paths: []string{dir}, ExceptionsFile: bad})
	if rep := d2.Report(); rep.Failed != 1 || !strings.Contains(rep.Failures[0].Error, "needs rule, field and values") {
		t.Errorf("bad exceptions: %+v", rep)
	}
}

func TestRuleSelection(t *testing.T) {
	dir := t.TempDir()
	mk := func(name, id, status, level, tag string) {
		writeFile(t, dir, name+".yml", "title: "+name+"\nid: "+id+"\nstatus: "+status+"\nlevel: "+level+"\ntags: ["+tag+"]\nlogsource:\n  product: test\ndetection:\n  sel:\n    F: x\n  condition: sel\n")
	}
	mk("a", "id-a", "stable", "high", "attack.t1001")
	mk("b", "id-b", "experimental", "low", "attack.t1002")
	mk("c", "id-c", "deprecated", "critical", "attack.t1001")
	ev := mkEvent("F", "x")
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"default drops deprecated", Options{}, []string{"id-a", "id-b"}},
		{"status", Options{Statuses: []string{"experimental"}}, []string{"id-b"}},
		{"min level", Options{MinLevel: signal.LevelMedium}, []string{"id-a"}},
		{"tags", Options{Tags: []string{"attack.t1001"}}, []string{"id-a"}},
		{"disabled", Options{Disabled: []string{"id-a"}}, []string{"id-b"}},
	}
	for _, tc := range tests {
		tc.opts.Paths = []string{dir}
		d, err := New(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range d.Matches(ev) {
			got = append(got, m.RuleID)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "whoami.yml", whoamiRule)
	d, err := New(Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	ev := sysmonProc(`C:\x\net.exe`, "bob")
	if len(d.Matches(ev)) != 0 {
		t.Fatal("unexpected match before reload")
	}
	writeFile(t, dir, "whoami.yml", strings.Replace(whoamiRule, `\whoami.exe`, `\net.exe`, 1))
	if err := d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(d.Matches(ev)) != 1 {
		t.Fatal("reload did not take effect")
	}
	// A bad reload keeps the old rules and says why.
	os.WriteFile(p, []byte(strings.Replace(whoamiRule, "endswith", "endswidth", 1)), 0o644)
	err = d.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), `unknown modifier "endswidth"`) || !strings.Contains(err.Error(), p+":") {
		t.Fatalf("bad reload error %v", err)
	}
	if len(d.Matches(ev)) != 1 {
		t.Fatal("bad reload replaced the rule set")
	}
}

func TestFactory(t *testing.T) {
	spec, ok := detect.Lookup("sigma")
	if !ok || spec.Layer != signal.LayerRules {
		t.Fatalf("sigma not registered: %+v", spec)
	}
	dir := t.TempDir()
	writeFile(t, dir, "whoami.yml", whoamiRule)
	if _, err := spec.New(detect.Options{RulePaths: []string{dir}, Config: map[string]any{"min_level": "high", "disabled": []any{"x"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := spec.New(detect.Options{RulePaths: []string{dir}, Config: map[string]any{"bogus": 1}}); err == nil {
		t.Error("unknown config key accepted")
	}
	if _, err := New(Options{Paths: []string{filepath.Join(dir, "missing")}}); err == nil {
		t.Error("missing path accepted")
	}
}

func TestFieldMappings(t *testing.T) {
	cases := []struct {
		name, rule string
		ev         map[string]any
	}{
		{"zeek", "logsource:\n  product: zeek\n  service: dns\ndetection:\n  sel:\n    query|endswith: '.evil'\n  condition: sel\n",
			map[string]any{"event.module": "zeek", "event.dataset": "zeek.dns", "zeek.query": "a.EVIL"}},
		{"webserver", "logsource:\n  category: webserver\ndetection:\n  sel:\n    cs-uri-query|contains: 'cmd='\n    cs-method: GET\n    sc-status: 200\n  condition: sel\n",
			map[string]any{"event.dataset": "web.access", "url.query": "x=1&cmd=id", "http.request.method": "GET", "http.response.status_code": int64(200)}},
		{"proxy", "logsource:\n  category: proxy\ndetection:\n  sel:\n    c-useragent|contains: 'curl'\n    cs-host: 'example.org'\n  condition: sel\n",
			map[string]any{"event.category": "proxy", "user_agent.original": "curl/8", "url.domain": "example.org"}},
		{"linux fields", "logsource:\n  product: linux\n  service: sudo\ndetection:\n  sel:\n    User: alice\n    CommandLine|contains: passwd\n  condition: sel\n",
			map[string]any{"event.dataset": "system.auth", "process.name": "sudo", "user.name": "alice", "process.command_line": "/usr/bin/passwd root"}},
		{"windows system fields", "logsource:\n  product: windows\n  service: security\ndetection:\n  sel:\n    EventID: 4624\n    Channel: Security\n    Computer: dc1\n    TargetUserName: bob\n  condition: sel\n",
			map[string]any{"winlog.channel": "Security", "winlog.event_id": int64(4624), "winlog.computer_name": "DC1", "winlog.event_data.TargetUserName": "bob"}},
		{"windows user_data", "logsource:\n  product: windows\n  service: system\ndetection:\n  sel:\n    SubjectUserName: bob\n  condition: sel\n",
			map[string]any{"winlog.channel": "System", "winlog.event_id": int64(104), "winlog.user_data.SubjectUserName": "bob"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := New(Options{Paths: []string{writeRule(t, "title: t\nid: x\n"+tc.rule)}})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(d.Matches(jsonEvent(tc.ev))); got != 1 {
				t.Errorf("got %d matches, want 1", got)
			}
		})
	}
}

// TestMaxEntities: an event with every entity field set, all values
// distinct, yields at most maxEntities entities (the array newSignal sizes
// by it); a new entity field must raise the bound.
func TestMaxEntities(t *testing.T) {
	ev := event.New()
	for i, f := range entityFields {
		ev.Set(f.key, fmt.Sprintf("v%d", i))
	}
	if got := entities(ev, nil); len(got) != maxEntities {
		t.Errorf("%d entities from every field set, maxEntities is %d", len(got), maxEntities)
	}
}
