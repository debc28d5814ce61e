package windows_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/formattest"
	"github.com/rampart-ids/rampart/internal/format/windows"
	"github.com/rampart-ids/rampart/internal/testutil"
)

func TestGolden(t *testing.T) { formattest.Golden(t, windows.Name) }

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		rec     string
		want    map[string]any
		wantErr string
	}{
		{
			name: "flat jsonl security 4624",
			rec:  `{"Provider": "Microsoft-Windows-Security-Auditing", "EventID": "4624", "Channel": "Security", "Computer": "FS03", "TimeCreated": "2021-10-20 13:39:17.315479", "EventRecordID": "67101", "ProcessID": "512", "Keywords": "0x8020000000000000", "EventData": {"TargetUserName": "admmig", "TargetDomainName": "OFFSEC", "IpAddress": "::ffff:10.0.0.5", "IpPort": "0", "LogonType": "9", "ProcessId": "0x0000000000000300"}}`,
			want: map[string]any{
				"winlog.event_id": int64(4624), "event.code": "4624", "event.dataset": "windows.security",
				"winlog.record_id": int64(67101), "winlog.process.pid": int64(512), "host.name": "FS03",
				"user.name": "admmig", "user.domain": "OFFSEC", "source.ip": "10.0.0.5", "source.port": int64(0),
				"winlog.event_data.LogonType": "9", "process.pid": int64(768), "event.outcome": "success",
			},
		},
		{
			name: "xml layout with numbers",
			rec:  `{"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon","Guid":"5770385F"}},"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"pc","EventRecordID":7,"Execution":{"#attributes":{"ProcessID":3544,"ThreadID":4272}},"Security":{"#attributes":{"UserID":"S-1-5-18"}},"TimeCreated":{"#attributes":{"SystemTime":"2025-11-27T07:40:10.165324Z"}}},"EventData":{"ProcessId":4460,"Image":"C:\\x\\a.exe","RuleName":null}}}`,
			want: map[string]any{
				"winlog.event_id": int64(1), "winlog.provider_name": "Microsoft-Windows-Sysmon", "winlog.provider_guid": "5770385F",
				"winlog.process.thread.id": int64(4272), "winlog.user.identifier": "S-1-5-18",
				"winlog.event_data.ProcessId": "4460", "process.pid": int64(4460), "process.executable": `C:\x\a.exe`,
				"process.name": "a.exe", "event.dataset": "windows.microsoft-windows-sysmon/operational",
			},
		},
		{
			name: "named data list",
			rec:  `{"Event":{"System":{"EventID":{"#text":"4104","#attributes":{"Qualifiers":"0"}},"Channel":"Microsoft-Windows-PowerShell/Operational"},"EventData":{"Data":[{"#attributes":{"Name":"ScriptBlockText"},"#text":"iex x"},"loose1","loose2"]}}}`,
			want: map[string]any{
				"winlog.event_id": int64(4104), "winlog.event_data.ScriptBlockText": "iex x",
				"winlog.event_data.Data": []string{"loose1", "loose2"},
			},
		},
		{
			name: "jsonl _data single item",
			rec:  `{"EventID": "800", "Channel": "Windows PowerShell", "Provider": "PowerShell", "EventData": {"_data": ["only"]}}`,
			want: map[string]any{"winlog.event_data.Data": "only", "event.dataset": "windows.windows powershell"},
		},
		{
			name: "user data wrapper dropped",
			rec:  `{"EventID": "1102", "Channel": "Security", "Provider": "Microsoft-Windows-Eventlog", "UserData": {"LogFileCleared": {"SubjectUserName": "admmig", "Nested": {"Deep": "x"}}}}`,
			want: map[string]any{"winlog.user_data.SubjectUserName": "admmig", "winlog.user_data.Deep": "x", "user.name": "admmig"},
		},
		{name: "not an object", rec: `[1]`, wantErr: "invalid_record"},
		{name: "no system fields", rec: `{"a":1}`, wantErr: "unknown_layout"},
		{name: "bad event id", rec: `{"EventID":"x","Channel":"Security"}`, wantErr: "invalid_record"},
		{name: "broken json", rec: `{"EventID":1,`, wantErr: "invalid_json"},
		{name: "invalid utf8", rec: "{\"EventID\":1,\"Channel\":\"\xff\"}", wantErr: "invalid_utf8"},
		{name: "too deep", rec: `{"EventID":1,"x":` + repeat("[", 70) + repeat("]", 70) + `}`, wantErr: "too_deep"},
	}
	f, _ := format.Lookup(windows.Name)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := f.NewParser(formattest.Opts())
			ev := event.New()
			err := p.Parse([]byte(tc.rec), ev)
			if tc.wantErr != "" {
				re, ok := err.(*format.RecordError)
				if !ok || re.Reason != tc.wantErr {
					t.Fatalf("got error %v, want reason %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			formattest.CheckTypes(t, ev)
			for k, want := range tc.want {
				if diff := cmp.Diff(want, ev.Fields[k]); diff != "" {
					t.Errorf("field %s (-want +got):\n%s", k, diff)
				}
			}
			if ev.Fields["event.module"] != "windows" || ev.Format != windows.Name {
				t.Errorf("event.module %v format %q", ev.Fields["event.module"], ev.Format)
			}
		})
	}
}

func repeat(s string, n int) string { return string(bytes.Repeat([]byte(s), n)) }

// TestSharedCorpus parses every windows-evtx jsonl line and every regression_data
// JSON file: all must parse, with an event id and a channel.
func TestSharedCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("slow corpus test")
	}
	for _, sub := range []string{"windows-evtx/jsonl", "sigma/regression_data"} {
		root := testutil.SharedData(t, sub)
		var files, events int
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || (filepath.Ext(path) != ".jsonl" && filepath.Ext(path) != ".json") {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			res, st := formattest.DecodeAll(t, data, format.DecoderOptions{Format: windows.Name})
			if st.Quarantined > 0 {
				for _, r := range res {
					if r.Error != "" {
						t.Errorf("%s %s: %s", path, r.Pos, r.Error)
					}
				}
			}
			for _, r := range res {
				if r.Error == "" && (r.Fields["winlog.channel"] == nil || r.Time == "") {
					t.Errorf("%s %s: no channel or time", path, r.Pos)
				}
			}
			events += int(st.Events)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d files, %d events", sub, files, events)
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/golden/jsonl.in", "testdata/golden/winlogbeat.in", "testdata/golden/flat.in"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range formattest.Lines(data) {
			f.Add(l)
		}
	}
	fm, _ := format.Lookup(windows.Name)
	f.Fuzz(func(t *testing.T, rec []byte) {
		formattest.FuzzParse(t, fm, rec)
	})
}

func BenchmarkParseWindows(b *testing.B) {
	data, err := os.ReadFile("testdata/golden/jsonl.in")
	if err != nil {
		b.Fatal(err)
	}
	recs := formattest.Lines(data)
	fm, _ := format.Lookup(windows.Name)
	p := fm.NewParser(format.Options{})
	ev := event.New()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		ev.Reset()
		if err := p.Parse(recs[n%len(recs)], ev); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
