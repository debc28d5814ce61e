package evtxeval

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/eval"
	"github.com/rampart-ids/rampart/internal/testutil"
)

const sample = "../../format/evtx/testdata/sigma_sysmon_7records.evtx"

func TestLeafEqual(t *testing.T) {
	tests := []struct {
		a, b any
		trim bool
		want bool
	}{
		{"4688", json.Number("4688"), false, true},
		{"0x0000000001F4C65F", "0x1f4c65f", false, true},
		{"{93FD0727-512B-0007-F9D9-02942B51D701}", "93fd0727-512b-0007-f9d9-02942b51d701", false, true},
		{"True", "true", false, true},
		{"a\r\nb", "a\nb", false, true},
		{"\x02-", "-", false, true},
		{"TgBsAGEA", "4E006C006100", false, true}, // base64 vs hex
		{"2021-10-20 13:39:12.731903", "2021-10-20T13:39:12.731903Z", false, true},
		{"2019-04-27 21:04:25.733400", "2019-04-27 21:04:25.733401", false, true}, // float64 rendering of .7334010-.7334019
		{"2019-04-27 21:04:25.733402", "2019-04-27 21:04:25.733401", false, false},
		{"2021-10-20 13:39:12.731903", "2021-10-20 13:39:12.731910", false, false},
		{"<string>a</string>\n<string></string>\n", "<string></string>\n<string>a</string>\n", false, true},
		{`cmd.exe" `, `cmd.exe"`, false, false},
		{`cmd.exe" `, `cmd.exe"`, true, true},
		{"Explorer.EXE", "Explorer.exe", false, false},
		{nil, "", false, true},
		{"1", "2", false, false},
	}
	for _, tc := range tests {
		if got := leafEqual(tc.a, tc.b, cmpOpts{trim: tc.trim, pyTime: true}); got != tc.want {
			t.Errorf("leafEqual(%q, %q, %v) = %v, want %v", tc.a, tc.b, tc.trim, got, tc.want)
		}
	}
}

// readSample returns the sample's records as Rampart renders them.
func readSample(t *testing.T) []rec {
	t.Helper()
	errs := map[string]int{}
	recs, err := readEVTX(sample, errs)
	if err != nil || len(recs) != 7 || len(errs) != 0 {
		t.Fatalf("reading sample: %d records, %v, %v", len(recs), errs, err)
	}
	return recs
}

func TestWindowsLayout(t *testing.T) {
	recs := readSample(t)
	dir := t.TempDir()
	data, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(dir, "ev", "a.evtx"), data)
	mustWrite(t, filepath.Join(dir, "ev", "unreadable.evtx"), data)
	// Reference: the records as rendered, one changed value, one record dropped.
	var ref bytes.Buffer
	for i, r := range recs[:6] {
		line := string(r.raw)
		if i == 2 {
			line = strings.Replace(line, `"RuleName": "`, `"RuleName": "changed`, 1)
		}
		ref.WriteString(line + "\n")
	}
	// Add a record the reader does not have.
	ref.WriteString(`{"Provider": "X", "EventID": "1", "EventRecordID": "999999", "Channel": "C", "Computer": "h", "TimeCreated": "2020-01-01 00:00:00"}` + "\n")
	mustWrite(t, filepath.Join(dir, "jsonl", "a.jsonl"), ref.Bytes())
	mustWrite(t, filepath.Join(dir, "labels.csv"), []byte("evtx_path,jsonl_path,events_converted,records_failed\n"+
		"ev/a.evtx,jsonl/a.jsonl,7,0\nev/unreadable.evtx,,0,7\n"))

	res, err := run(context.Background(), eval.Options{Data: dir})
	if err != nil {
		t.Fatal(err)
	}
	got := res.JSON()
	want := map[string]any{
		"records_reference": 7, "records_read": 6, "records_missing": 1, "records_rampart": 7,
		"files": 1, "files_failed": 0, "field_mismatches": map[string]int{"EventData": 1},
		"unreadable_by_reference_files": 1, "unreadable_by_reference_records_recovered": 7,
	}
	for k, w := range want {
		if diff := cmp.Diff(w, got[k]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}
	if m := got["event_field_mismatches"].(map[string]int); m["winlog.event_data.RuleName"] != 1 {
		t.Errorf("event_field_mismatches = %v, want winlog.event_data.RuleName: 1", m)
	}
	var table bytes.Buffer
	if err := res.Table(&table); err != nil || !strings.Contains(table.String(), "record 999999 missing") {
		t.Errorf("table lacks the missing record example (%v):\n%s", err, table.String())
	}
}

func TestSigmaLayout(t *testing.T) {
	recs := readSample(t)
	dir := t.TempDir()
	data, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(dir, "regression_data", "r1", "x.evtx"), data)
	// A regression_data style rendering of the first record.
	var m map[string]any
	if err := json.Unmarshal(recs[0].raw, &m); err != nil {
		t.Fatal(err)
	}
	ev := map[string]any{"Event": map[string]any{
		"#attributes": map[string]any{"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
		"System": map[string]any{
			"Provider":      map[string]any{"#attributes": map[string]any{"Name": m["Provider"], "Guid": strings.Trim(m["ProviderGuid"].(string), "{}")}},
			"EventID":       json.Number(m["EventID"].(string)),
			"EventRecordID": json.Number(m["EventRecordID"].(string)),
			"Channel":       m["Channel"], "Computer": m["Computer"],
			"TimeCreated": map[string]any{"#attributes": map[string]any{"SystemTime": strings.Replace(m["TimeCreated"].(string), " ", "T", 1) + "Z"}},
		},
		"EventData": m["EventData"],
	}}
	b, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(dir, "regression_data", "r1", "x.json"), b)
	res, err := run(context.Background(), eval.Options{Data: dir})
	if err != nil {
		t.Fatal(err)
	}
	got := res.JSON()
	if got["layout"] != "sigma-regression" || got["records_reference"] != 1 || got["records_read"] != 1 {
		t.Fatalf("result = %v", got)
	}
	if diff := cmp.Diff(map[string]int{}, got["field_mismatches"]); diff != "" {
		t.Errorf("field_mismatches (-want +got):\n%s", diff)
	}
}

func TestRunNeedsData(t *testing.T) {
	if _, err := run(context.Background(), eval.Options{}); err == nil {
		t.Error("run without --data: want error")
	}
	if _, err := run(context.Background(), eval.Options{Data: t.TempDir()}); err == nil {
		t.Error("run on an empty dir: want error")
	}
	if _, err := eval.Lookup("evtx-parity"); err != nil {
		t.Error(err)
	}
}

// TestParityWindowsEVTX is the full check on the shared corpus: every
// reference record read with zero field mismatches.
func TestParityWindowsEVTX(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the whole corpus")
	}
	dir := testutil.SharedData(t, "windows-evtx")
	res, err := run(context.Background(), eval.Options{Data: dir})
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("EVTX_PARITY_TABLE") != "" {
		_ = res.Table(os.Stdout)
	}
	s := res.(*Result).Sections[0]
	if s.RecordsReference != 23371 {
		t.Errorf("records_reference = %d, want 23371", s.RecordsReference)
	}
	if s.RecordsRead != s.RecordsReference {
		t.Errorf("records_read = %d, want %d", s.RecordsRead, s.RecordsReference)
	}
	if len(s.FieldMismatches) != 0 {
		t.Errorf("field_mismatches = %v", s.FieldMismatches)
	}
	if len(s.EventFieldMismatches) != 0 {
		t.Errorf("event_field_mismatches = %v", s.EventFieldMismatches)
	}
	if s.FilesFailed != 0 {
		t.Errorf("files_failed = %d: %v", s.FilesFailed, s.FailedFiles)
	}
}

func mustWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
