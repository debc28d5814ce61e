package anomaly

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

var update = flag.Bool("update", false, "rewrite golden files")

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func mk(t time.Time, id string, kv ...any) *event.Event {
	ev := event.New()
	ev.Time, ev.ID = t, id
	for i := 0; i+1 < len(kv); i += 2 {
		ev.Set(kv[i].(string), kv[i+1])
	}
	return ev
}

func login(t time.Time, id, user, ip, outcome string) *event.Event {
	return mk(t, id, "event.module", "system", "event.dataset", "system.auth", "event.action", "ssh_login",
		"event.outcome", outcome, "user.name", user, "source.ip", ip, "host.hostname", "bastion")
}

func proc(t time.Time, id, host, parent, child string) *event.Event {
	return mk(t, id, "event.module", "windows", "event.dataset", "windows.microsoft-windows-sysmon/operational",
		"event.code", "1", "host.name", host, "process.parent.executable", parent, "process.executable", child)
}

func conn(t time.Time, id, src string, port int64, proto string) *event.Event {
	return mk(t, id, "event.module", "zeek", "event.dataset", "zeek.conn", "source.ip", src,
		"destination.ip", "192.0.2.1", "destination.port", port, "network.transport", proto)
}

// scenario is a fixed stream: two days of ordinary activity, then a
// password-guessing burst on alice, her first login from a new network,
// Word starting PowerShell on ws1 and a connection to port 4444.
func scenario() []*event.Event {
	var evs []*event.Event
	n := 0
	id := func() string { n++; return fmt.Sprintf("ev%05d", n) }
	for w := 0; w < 2*144; w++ {
		t := t0.Add(time.Duration(w) * 10 * time.Minute)
		evs = append(evs,
			login(t, id(), "alice", "10.0.0.5", "failure"),
			login(t.Add(time.Second), id(), "alice", "10.0.0.5", "success"),
			login(t.Add(2*time.Second), id(), "bob", "10.0.0.6", "success"))
		if w%6 == 0 {
			evs = append(evs,
				proc(t, id(), "WS1", `C:\Windows\explorer.exe`, `C:\Program Files\Google\Chrome\chrome.exe`),
				proc(t, id(), "WS2", `C:\Windows\explorer.exe`, `C:\Program Files\Microsoft Office\WINWORD.EXE`),
				conn(t, id(), "10.0.0.5", 443, "tcp"), conn(t, id(), "10.0.0.5", 53, "udp"))
		}
	}
	at := t0.Add(48 * time.Hour)
	for i := 0; i < 41; i++ {
		evs = append(evs, login(at.Add(time.Duration(i)*10*time.Second), id(), "alice", "203.0.113.7", "failure"))
	}
	evs = append(evs,
		login(at.Add(8*time.Minute), id(), "alice", "203.0.113.7", "success"),
		login(at.Add(9*time.Minute), id(), "alice", "10.0.0.9", "success"),
		proc(at.Add(9*time.Minute), id(), "ws1", `C:\Program Files\Microsoft Office\winword.exe`, `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`),
		proc(at.Add(9*time.Minute), id(), "ws1", `C:\Windows\explorer.exe`, `C:\Program Files\Google\Chrome\chrome.exe`),
		conn(at.Add(9*time.Minute), id(), "10.0.0.5", 4444, "tcp"),
		conn(at.Add(9*time.Minute), id(), "10.0.0.5", 443, "tcp"))
	return evs
}

func newEngine(t testing.TB) (*Anomaly, *Rarity, *detect.Engine) {
	t.Helper()
	a, err := NewAnomaly(AnomalyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRarity(RarityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return a, r, detect.NewEngine(a, r)
}

func runEvents(e *detect.Engine, evs []*event.Event) []signal.Signal {
	var out []signal.Signal
	for _, ev := range evs {
		e.Process(context.Background(), ev, func(s signal.Signal) { out = append(out, s) })
	}
	return out
}

func TestGoldenScenario(t *testing.T) {
	_, _, e := newEngine(t)
	sigs := runEvents(e, scenario())
	got, err := json.MarshalIndent(sigs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "scenario.golden.json")
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		t.Fatalf("signals differ from %s (run with -update after checking):\n%s", path, got)
	}
	// What the golden file must say, checked independently of it.
	byRule := map[string]int{}
	for _, s := range sigs {
		byRule[s.Detector+"/"+s.RuleID]++
		if s.Layer != signal.LayerML || s.Score <= 0 || s.Score > 1 || s.Explanation == "" || s.Details["feature"] == nil {
			t.Errorf("signal not explained or out of range: %+v", s)
		}
	}
	want2 := map[string]int{"rarity/process_pair": 1, "rarity/login_source": 2, "rarity/dest_port": 1,
		"anomaly/baseline-user": 1, "anomaly/baseline-host": 1}
	// 203.0.113.7 has no history, so no baseline-ip signal: new attackers
	// are the rarity and threshold detectors' job.
	if fmt.Sprint(byRule) != fmt.Sprint(want2) {
		t.Errorf("signals per rule %v, want %v", byRule, want2)
	}
}
