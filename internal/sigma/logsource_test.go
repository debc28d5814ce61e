package sigma

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// TestLogsourceReference checks every Windows and Linux category and
// service in SigmaHQ's logsource reference has an explicit route (no
// fallback to "all Windows events" or a guessed channel).
func TestLogsourceReference(t *testing.T) {
	p := filepath.Join(testutil.SharedData(t, "sigma/tests"), "logsource.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Legit map[string]struct {
			Category map[string]any `json:"category"`
			Service  map[string]any `json:"service"`
		} `json:"legit"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	for c := range ref.Legit["windows"].Category {
		if len(windowsCategoryClauses(c)) == 0 {
			t.Errorf("windows category %q has no route", c)
		}
	}
	for s := range ref.Legit["windows"].Service {
		if _, ok := windowsServices[s]; !ok {
			t.Errorf("windows service %q has no channel", s)
		}
	}
	for c := range ref.Legit["linux"].Category {
		if cl := linuxClauses(c, ""); len(cl) == 0 || (len(cl) == 1 && cl[0].dataset == "linux."+c) {
			t.Errorf("linux category %q has no sysmon route", c)
		}
	}
	for _, tc := range []struct {
		ls   Logsource
		want lsClause
	}{
		{Logsource{Product: "windows", Category: "process_creation"}, lsClause{windows: true, channel: sysmonChannel, eids: []int64{1}}},
		{Logsource{Product: "windows", Service: "security"}, lsClause{windows: true, channel: "security"}},
		{Logsource{Product: "linux", Service: "auth"}, lsClause{dataset: "system.auth"}},
		{Logsource{Product: "zeek", Service: "http"}, lsClause{dataset: "zeek.http"}},
		{Logsource{Category: "webserver"}, lsClause{dataset: "web.access"}},
		{Logsource{Product: "aws", Service: "cloudtrail"}, lsClause{dataset: "aws.cloudtrail"}},
	} {
		got := logsourceClauses(tc.ls)
		if len(got) == 0 || got[0].channel != tc.want.channel || got[0].dataset != tc.want.dataset || len(got[0].eids) != len(tc.want.eids) {
			t.Errorf("%+v: got %+v, want first %+v", tc.ls, got, tc.want)
		}
	}
}

// TestChannelRouteCache: the last channel's routes are reused only for the
// same name, even when the event's channel string lives in a buffer that
// later events overwrite, and channel names still route case-insensitively.
func TestChannelRouteCache(t *testing.T) {
	rules := map[string]string{
		"sec.yml": "title: sec\nid: sec\nlogsource:\n  product: windows\n  service: security\ndetection:\n  sel:\n    EventID: 4624\n  condition: sel\n",
		"sys.yml": "title: sys\nid: sys\nlogsource:\n  product: windows\n  service: system\ndetection:\n  sel:\n    EventID: 4624\n  condition: sel\n",
	}
	dir := t.TempDir()
	for name, text := range rules {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := New(Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	rs := d.set.Load()
	c := newEvalCtx(rs) // one context, so every event sees the previous one's cache
	buf := make([]byte, 8)
	for i, tc := range []struct{ ch, want string }{
		{"Security", "sec"}, {"Security", "sec"}, {"System", "sys"}, {"Security", "sec"},
		{"SECURITY", "sec"}, {"system", "sys"}, {"Applica", ""}, {"System", "sys"},
		{strings.Repeat("x", 70), ""}, {strings.Repeat("x", 70), ""}, {"Security", "sec"},
	} {
		ch := tc.ch
		if len(ch) <= len(buf) { // as a reused decode buffer: same memory, new bytes
			n := copy(buf, ch)
			ch = unsafe.String(&buf[0], n)
		}
		ev := event.New()
		ev.ID = fmt.Sprint(i)
		ev.Set("winlog.channel", ch)
		ev.Set("winlog.event_id", int64(4624))
		var got []string
		rs.runCtx(c, ev, func(c *evalCtx, r *crule) { got = append(got, r.meta.ID) })
		if want := strings.Fields(tc.want); !slices.Equal(got, want) {
			t.Errorf("event %d channel %q: matched %v, want %v", i, tc.ch, got, want)
		}
	}
}
