package windows

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
)

func TestNativeValue(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// HexInt64 as python-evtx and Rampart's reader pad it.
		{"TargetLogonId", "0x0000000000085527", "0x85527"},
		{"SubjectLogonId", "0x00000000000003e7", "0x3e7"},
		{"GrantedAccess", "0x001fffff", "0x1fffff"},
		{"GrantedAccess", "0x001FFFFF", "0x1fffff"},
		{"Status", "0xC000006D", "0xc000006d"},
		{"Status", "0x00000000", "0x0"},
		{"Status", "0x0", "0x0"},
		{"X", "0X1F", "0x1f"},
		{"Keywords", "0x8020000000000000", "0x8020000000000000"},
		{"", "0x0000000000000300", "0x300"},
		// Text that only looks like hex stays as written.
		{"Details", "DWORD (0x00000001)", "DWORD (0x00000001)"},
		{"X", "0x", "0x"},
		{"X", "0x12g", "0x12g"},
		{"X", "0x 1", "0x 1"},
		{"X", "0x10000000000000000", "0x10000000000000000"}, // 17 digits: wider than a HexInt64
		{"X", "0x" + "000000000000000000000000000001", "0x" + "000000000000000000000000000001"},
		{"X", "0x00000000000000000000000f", "0xf"},
		{"X", "00x1", "00x1"},
		// GUID-typed fields (name ends in Guid): upper case in braces.
		{"SubcategoryGuid", "0cce9210-69ae-11d9-bed3-505054503030", "{0CCE9210-69AE-11D9-BED3-505054503030}"},
		{"SourceProcessGUID", "0197231E-046C-6928-160C-000000000D00", "{0197231E-046C-6928-160C-000000000D00}"},
		{"ProcessGuid", "{93fd0727-512b-0007-f9d9-02942b51d701}", "{93FD0727-512B-0007-F9D9-02942B51D701}"},
		{"LogonGuid", "{00000000-0000-0000-0000-000000000000}", "{00000000-0000-0000-0000-000000000000}"},
		{"ProcessGuid", "{93fd0727-512b-0007-f9d9-02942b51d701", "{93fd0727-512b-0007-f9d9-02942b51d701"},
		{"ProcessGuid", "93fd0727x512b-0007-f9d9-02942b51d701", "93fd0727x512b-0007-f9d9-02942b51d701"},
		{"ProcessGuid", "93fd0727-512b-0007-f9d9-02942b51d70g", "93fd0727-512b-0007-f9d9-02942b51d70g"},
		{"ProcessGuid", "93fd0727", "93fd0727"},
		// Bare GUIDs in other fields are text (RPC Firewall InterfaceUuid).
		{"InterfaceUuid", "df1941c5-fe89-4e79-bf10-463657acf44d", "df1941c5-fe89-4e79-bf10-463657acf44d"},
		{"ScriptBlockId", "0c4c0d5e-8b1a-4f8e-9e0d-1c2b3a4d5e6f", "0c4c0d5e-8b1a-4f8e-9e0d-1c2b3a4d5e6f"},
		// Whitespace is kept (rules test CommandLine|endswith: 'chcp ').
		{"CommandLine", `"C:\Windows\system32\cmd.exe" `, `"C:\Windows\system32\cmd.exe" `},
		{"CommandLine", "chcp  ", "chcp  "},
		{"X", "", ""},
		// Line ends as an XML parser gives them.
		{"ScriptBlockText", "{\r\n  $a\r\n}", "{\n  $a\n}"},
		{"SourceImage", "\r", "\n"},
		{"PrivilegeList", "SeDebugPrivilege\r\n\t\t\tSeBackupPrivilege\r", "SeDebugPrivilege\n\t\t\tSeBackupPrivilege\n"},
		{"X", "a\n\nb", "a\n\nb"},
		{"X", "\r\r\n", "\n\n"},
	}
	for _, tc := range tests {
		if got := nativeValue(tc.name, tc.in); got != tc.want {
			t.Errorf("nativeValue(%q, %q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestNativeValueNoAllocWhenNative(t *testing.T) {
	for _, s := range []string{"0x3e7", "{93FD0727-512B-0007-F9D9-02942B51D701}", "C:\\x.exe"} {
		if n := testing.AllocsPerRun(100, func() { _ = nativeValue("ProcessGuid", s) }); n != 0 {
			t.Errorf("nativeValue(%q) allocates %v times", s, n)
		}
	}
}

// TestRenderingsAgree parses one Sysmon event 10 as Rampart's .evtx reader,
// python-evtx (the windows-evtx JSONL) and the Rust evtx crate
// (regression_data JSON) render it: the typed values must come out the same.
func TestRenderingsAgree(t *testing.T) {
	renderings := map[string]string{
		"rampart evtx": `{"Provider": "Microsoft-Windows-Sysmon", "ProviderGuid": "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}", "EventID": "10", "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "pc", "EventRecordID": "676404", "ActivityID": "{0d8e2ea3-7d3c-0000-fd2e-8e0d3c7dd801}", "EventData": {"SourceProcessGUID": "{0197231e-046c-6928-160c-000000000d00}", "GrantedAccess": "0x001fffff", "SubjectLogonId": "0x00000000000003e7", "CommandLine": "a.exe ", "ScriptBlockText": "a\r\nb"}, "UserData": {"W": {"LogonId": "0x0000000000085527"}}}`,
		"python-evtx":  `{"Provider": "Microsoft-Windows-Sysmon", "ProviderGuid": "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}", "EventID": "10", "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "pc", "EventRecordID": "676404", "ActivityID": "{0D8E2EA3-7D3C-0000-FD2E-8E0D3C7DD801}", "EventData": {"SourceProcessGUID": "{0197231E-046C-6928-160C-000000000D00}", "GrantedAccess": "0x001fffff", "SubjectLogonId": "0x00000000000003e7", "CommandLine": "a.exe ", "ScriptBlockText": "a\nb"}, "UserData": {"W": {"LogonId": "0x0000000000085527"}}}`,
		"rust evtx":    `{"Event": {"System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "5770385F-C22A-43E0-BF4C-06F5698FFBD9"}}, "EventID": 10, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "pc", "EventRecordID": 676404, "Correlation": {"#attributes": {"ActivityID": "0D8E2EA3-7D3C-0000-FD2E-8E0D3C7DD801"}}}, "EventData": {"SourceProcessGUID": "0197231E-046C-6928-160C-000000000D00", "GrantedAccess": "0x1fffff", "SubjectLogonId": "0x3e7", "CommandLine": "a.exe ", "ScriptBlockText": "a\r\nb"}, "UserData": {"W": {"LogonId": "0x85527"}}}}`,
		"winlogbeat":   `{"winlog": {"event_id": 10, "channel": "Microsoft-Windows-Sysmon/Operational", "provider_name": "Microsoft-Windows-Sysmon", "provider_guid": "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}", "computer_name": "pc", "record_id": 676404, "activity_id": "{0D8E2EA3-7D3C-0000-FD2E-8E0D3C7DD801}", "event_data": {"SourceProcessGUID": "{0197231E-046C-6928-160C-000000000D00}", "GrantedAccess": "0x1fffff", "SubjectLogonId": "0x3e7", "CommandLine": "a.exe ", "ScriptBlockText": "a\nb"}, "user_data": {"LogonId": "0x85527"}}}`,
	}
	want := map[string]any{
		"winlog.provider_guid":                "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
		"winlog.activity_id":                  "{0D8E2EA3-7D3C-0000-FD2E-8E0D3C7DD801}",
		"winlog.event_data.SourceProcessGUID": "{0197231E-046C-6928-160C-000000000D00}",
		"winlog.event_data.GrantedAccess":     "0x1fffff",
		"winlog.event_data.SubjectLogonId":    "0x3e7",
		"winlog.event_data.CommandLine":       "a.exe ",
		"process.command_line":                "a.exe ",
		"winlog.event_data.ScriptBlockText":   "a\nb",
		"winlog.user_data.LogonId":            "0x85527",
	}
	p := Format{}.NewParser(format.Options{})
	for name, rec := range renderings {
		ev := event.New()
		if err := p.Parse([]byte(rec), ev); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := map[string]any{}
		for k := range want {
			got[k] = ev.Fields[k]
		}
		if name == "winlogbeat" {
			// Winlogbeat's user_data keeps no wrapper; its layout is
			// flattened as ECS (winlog.user_data.LogonId as is).
			got["winlog.user_data.LogonId"] = want["winlog.user_data.LogonId"]
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", name, d)
		}
	}
}

// FuzzNativeValue: the normalisation is idempotent, leaves no CR, and
// changes nothing but hex, GUID and line-end renderings.
func FuzzNativeValue(f *testing.F) {
	for _, s := range []string{"0x0000000000085527", "0x001FFFFF", "0X1F", "0x", "0cce9210-69ae-11d9-bed3-505054503030",
		"{93fd0727-512b-0007-f9d9-02942b51d701}", "a\r\nb\rc", "DWORD (0x00000001)", "chcp  ", ""} {
		f.Add("ProcessGuid", s)
		f.Add("LogonId", s)
	}
	f.Fuzz(func(t *testing.T, name, s string) {
		got := nativeValue(name, s)
		if again := nativeValue(name, got); again != got {
			t.Fatalf("not idempotent: %q → %q → %q", s, got, again)
		}
		if strings.IndexByte(got, '\r') >= 0 {
			t.Fatalf("%q → %q keeps a CR", s, got)
		}
		lf := strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
		if got != lf && !strings.HasPrefix(lf, "0") && !(isGUIDName(name) && strings.EqualFold(strings.Trim(got, "{}"), strings.Trim(lf, "{}"))) {
			t.Fatalf("%q (%s) → %q: changed text that is neither hex nor a GUID", s, name, got)
		}
	})
}
