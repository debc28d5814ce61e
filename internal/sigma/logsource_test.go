package sigma

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

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
