package sigma

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/format"
	_ "github.com/rampart-ids/rampart/internal/format/all"
	"github.com/rampart-ids/rampart/internal/format/formattest"
)

// goldenMatches decodes dir/events.jsonl with the format layer, matches
// dir/rules.yml and compares "line rule-id" per match with dir/want.txt.
func goldenMatches(t *testing.T, dir string, events int) {
	t.Helper()
	d, err := New(Options{Paths: []string{dir + "/rules.yml"}})
	if err != nil {
		t.Fatal(err)
	}
	evs, skipped := formattest.FileEvents(t, dir+"/events.jsonl", format.DecoderOptions{})
	if skipped != 0 || len(evs) != events {
		t.Fatalf("decoded %d events (%d skipped), want %d", len(evs), skipped, events)
	}
	var got []string
	for i, ev := range evs {
		var ids []string
		for _, m := range d.Matches(ev) {
			ids = append(ids, m.RuleID)
		}
		slices.Sort(ids)
		for _, id := range ids {
			got = append(got, fmt.Sprintf("%d %s", i, id))
		}
	}
	want, err := os.ReadFile(dir + "/want.txt")
	if err != nil {
		t.Fatal(err)
	}
	if g, w := strings.Join(got, "\n"), strings.TrimSpace(string(want)); g != w {
		t.Errorf("matches:\n%s\nwant:\n%s", g, w)
	}
}

// TestAccessListGolden: events in (the windows-evtx JSONL layout, decoded by
// the format layer), matches out, for rules that write an access right as
// rendered text ("WriteData") while the events hold its code ("%%4417").
// want.txt lists "line rule-id".
func TestAccessListGolden(t *testing.T) { goldenMatches(t, "testdata/accesslist", 4) }

// TestWindowsMappingGolden: process ids on 4688 and Sysmon 1 (4688's
// ProcessId is the creator's, so Sigma's ProcessId reads NewProcessId and
// ParentProcessId reads ProcessId), and the DNS server's audit channel as
// events name it (Microsoft-Windows-DNSServer/Audit), and LogonProcessName
// written unpadded against 4624's padded names ("NtLmSsp "). want.txt lists
// "line rule-id".
func TestWindowsMappingGolden(t *testing.T) { goldenMatches(t, "testdata/winmap", 5) }

// TestRenderedAccessRights: which codes a rendered value adds, per modifier
// and product; codes written as codes add nothing.
func TestRenderedAccessRights(t *testing.T) {
	win := Logsource{Product: "windows", Service: "security"}
	cases := []struct {
		ls    Logsource
		field string
		mods  []string
		value string
		want  []string // added codes
	}{
		{win, "AccessList", []string{"contains"}, "WriteData", []string{"%%4417"}},
		{win, "AccessList", []string{"contains"}, "DELETE", []string{"%%1537", "%%4422"}},
		{win, "AccessList", []string{"contains"}, "AddSubdirectory", []string{"%%4418"}},
		{win, "AccessList", []string{"contains"}, "WriteDAC", nil}, // rendered WRITE_DAC
		{win, "AccessList", []string{"contains"}, "%%4417", nil},
		{win, "AccessList", []string{"contains"}, "4484", nil},
		{win, "AccessList", []string{"contains", "cased"}, "writedata", nil},
		{win, "AccessList", nil, "WriteData", nil}, // equality: the list is never one right's text
		{win, "AccessList", []string{"contains", "neq"}, "WriteData", nil},
		{win, "ObjectName", []string{"contains"}, "WriteData", nil},
		{Logsource{Product: "linux"}, "AccessList", []string{"contains"}, "WriteData", nil},
	}
	for _, c := range cases {
		ms, err := parseModifiers(c.mods)
		if err != nil {
			t.Fatal(err)
		}
		v := c.value
		groups, err := compileValues(ms, []*string{&v}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		groups = renderedAccessRights(c.ls, c.field, ms, groups)
		var added []string
		for _, vm := range groups[0][1:] {
			added = append(added, vm.pat)
		}
		if !slices.Equal(added, c.want) {
			t.Errorf("%s %s|%s %q: added %q, want %q", c.ls.Product, c.field, strings.Join(c.mods, "|"), c.value, added, c.want)
		}
	}
}

// TestJSONEscapedKeywordsGolden: keywords holding `"` and `\` match a JSON
// record without a message field, whose text has those bytes escaped;
// wildcards and |all keep their meaning, and a quote must still be where the
// keyword has it (kw-miss).
func TestJSONEscapedKeywordsGolden(t *testing.T) { goldenMatches(t, "testdata/jsonkw", 1) }
