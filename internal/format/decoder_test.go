package format_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	_ "github.com/rampart-ids/rampart/internal/format/all"
	"github.com/rampart-ids/rampart/internal/format/formattest"
	"github.com/rampart-ids/rampart/internal/testutil"
)

const (
	win1 = `{"EventID":"4624","Channel":"Security","Provider":"Microsoft-Windows-Security-Auditing","Computer":"a","EventData":{"TargetUserName":"u1"}}`
	win2 = `{"EventID":"4625","Channel":"Security","Provider":"Microsoft-Windows-Security-Auditing","Computer":"b","EventData":{"TargetUserName":"u2"}}`
)

func utf16le(s string) string {
	var b []byte
	for _, r := range utf16.Encode([]rune(s)) {
		b = append(b, byte(r), byte(r>>8))
	}
	return string(b)
}

func utf16be(s string) string {
	var b []byte
	for _, r := range utf16.Encode([]rune(s)) {
		b = append(b, byte(r>>8), byte(r))
	}
	return string(b)
}

// outcome renders decode results as "format" or "!reason" per record.
func outcome(t *testing.T, input string, opts format.DecoderOptions) ([]string, format.DecoderStats) {
	t.Helper()
	res, st := formattest.DecodeAll(t, []byte(input), opts)
	var out []string
	for _, r := range res {
		if r.Error != "" {
			out = append(out, "!"+r.Error)
		} else {
			out = append(out, r.Format)
		}
	}
	return out, st
}

func TestDecoderFraming(t *testing.T) {
	pretty := "{\n  \"Event\": {\n    \"System\": {\n      \"EventID\": 1,\n      \"Channel\": \"Microsoft-Windows-Sysmon/Operational\"\n    },\n    \"EventData\": {\"Image\": \"x {not a brace\"}\n  }\n}\n"
	tests := []struct {
		name  string
		input string
		opts  format.DecoderOptions
		want  []string
	}{
		{name: "ndjson", input: win1 + "\n" + win2 + "\n", want: []string{"windows", "windows"}},
		{name: "utf-8 bom", input: "\xEF\xBB\xBF" + win1 + "\n" + win2, want: []string{"windows", "windows"}},
		{name: "utf-16le bom", input: utf16le("\uFEFF" + win1 + "\r\n" + win2 + "\r\n"), want: []string{"windows", "windows"}},
		{name: "utf-16be bom", input: utf16be("\uFEFF" + win1 + "\n"), want: []string{"windows"}},
		{name: "crlf and blank lines", input: win1 + "\r\n\r\n\n" + win2, want: []string{"windows", "windows"}},
		{name: "pretty back to back", input: pretty + pretty, want: []string{"windows", "windows"}},
		{name: "concatenated on one line", input: win1 + win2 + " " + win1, want: []string{"windows", "windows", "windows"}},
		{name: "top-level array", input: "[\n" + win1 + ",\n" + win2 + "\n]\n" + win1, want: []string{"windows", "windows", "windows"}},
		{name: "array with scalar element", input: "[" + win1 + ", 5]", want: []string{"windows", "!unknown_format"}},
		{name: "empty array", input: "[]\n" + win1, want: []string{"windows"}},
		{name: "unclosed object then good", input: `{"EventID":"1","Channel":"Security"` + "\n" + win1 + "\n" + win2, want: []string{"!invalid_json", "windows", "windows"}},
		{name: "unclosed object then text line", input: `{"EventID":"1",` + "\nNov 10 12:00:00 host prog: hi\n" + win1, want: []string{"!invalid_json", "syslog", "windows"}},
		{name: "newline in string", input: `{"EventID":"1","Channel":"Sec` + "\n" + win1, want: []string{"!invalid_json", "windows"}},
		{name: "trailing garbage", input: win1 + " trailing\n" + win2, want: []string{"!invalid_json", "windows"}},
		{name: "unclosed at eof", input: win1 + "\n{\"EventID\":", want: []string{"windows", "!invalid_json"}},
		{name: "too deep", input: `{"EventID":1,"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "}\n" + win1, want: []string{"!too_deep", "windows"}},
		{name: "invalid utf8 json", input: "{\"EventID\":\"1\",\"Channel\":\"\xff\xfe\"}\n" + win1, want: []string{"!invalid_utf8", "windows"}},
		{name: "too large line", input: strings.Repeat("x", 300) + "\n" + win1, opts: format.DecoderOptions{MaxRecordBytes: 200}, want: []string{"!too_large", "windows"}},
		{name: "too large json", input: `{"EventID":"1","pad":"` + strings.Repeat("y", 300) + "\"}\n" + win1, opts: format.DecoderOptions{MaxRecordBytes: 200}, want: []string{"!too_large", "windows"}},
		{name: "unknown text", input: "\x00\x01\x02 binary\n" + win1, want: []string{"!unknown_format", "windows"}},
		{name: "text line starting with bracket", input: "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok\n" + win1, want: []string{"!unknown_format", "windows"}},
		{name: "named format", input: win1 + "\nnot windows\n", opts: format.DecoderOptions{Format: "windows"}, want: []string{"windows", "!invalid_json"}},
		{name: "unregistered format", input: win1, opts: format.DecoderOptions{Format: "nope"}, want: []string{"!unknown_format"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := outcome(t, tc.input, tc.opts)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecoderEventIdentity(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	input := win1 + "\n" + win1 + "\n"
	d := format.NewDecoder(strings.NewReader(input), "file:/x", format.DecoderOptions{Parse: format.Options{Now: func() time.Time { return now }}})
	ev := event.New()
	var ids []string
	for {
		err := d.Next(ev)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		raw, pos := d.Last()
		if string(ev.Raw) != win1 || string(raw) != win1 {
			t.Errorf("raw %q", ev.Raw)
		}
		if want := event.DeriveID("file:/x", pos, []byte(win1)); ev.ID != want {
			t.Errorf("id %s, want %s", ev.ID, want)
		}
		if ev.Source != "file:/x" || !ev.Received.Equal(now) || d.Format() != "windows" {
			t.Errorf("source %q received %v format %q", ev.Source, ev.Received, d.Format())
		}
		ids = append(ids, ev.ID)
	}
	if len(ids) != 2 || ids[0] == ids[1] {
		t.Errorf("ids %v: want two distinct ids for identical records at different positions", ids)
	}
}

// TestDecoderHostile feeds a mix of hostile records and checks every record
// is accounted for and good records around them survive.
func TestDecoderHostile(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(win1 + "\n")
	b.WriteString(strings.Repeat("A", 3<<20) + "\n")                          // oversized line
	b.WriteString(`{"x":` + strings.Repeat(`{"y":`, 5000) + "1" + "\n")       // deep and unclosed
	b.WriteString(win2 + "\n")                                                // good
	b.WriteString("\xff\xfe\xfd\x00\x00garbage\x1b[31m\n")                    // binary garbage
	b.WriteString(`{"EventID":"1","s":"` + strings.Repeat("z", 2<<20) + "\n") // oversized unclosed json
	b.WriteString(win1 + "\n")
	b.WriteString("{}\n[]\n[{}]\n{\"a\":[1,2,{\"b\":null}]}\n")
	b.WriteString(strings.Repeat("}", 50) + "\n" + strings.Repeat("]", 50) + "\n")
	b.WriteString(win2)
	res, st := formattest.DecodeAll(t, b.Bytes(), format.DecoderOptions{})
	events := 0
	for _, r := range res {
		if r.Error == "" && r.Format == "windows" {
			events++
		}
	}
	if events != 4 {
		t.Errorf("got %d windows events, want 4; results: %d, stats %+v", events, len(res), st)
	}
	if st.Reasons["too_large"] < 2 {
		t.Errorf("too_large %d, want >= 2 (stats %+v)", st.Reasons["too_large"], st)
	}
	if st.Bytes != int64(b.Len()) {
		t.Errorf("bytes %d, want %d", st.Bytes, b.Len())
	}
}

// testContainer is a binary container registered for the tests: magic
// "RTSTCONT", then records separated by NUL; a record "BAD" is a damaged piece.
type testReader struct{ recs [][]byte }

func (r *testReader) Next() ([]byte, error) {
	if len(r.recs) == 0 {
		return nil, io.EOF
	}
	rec := r.recs[0]
	r.recs = r.recs[1:]
	if string(rec) == "BAD" {
		return nil, format.Reject("corrupt_chunk", "test chunk")
	}
	return rec, nil
}

func init() {
	format.RegisterStream(format.StreamFormat{
		Name: "testcontainer", Magic: []byte("RTSTCONT"), RecordFormat: "windows",
		Open: func(r io.Reader) (format.RecordReader, error) {
			data, err := io.ReadAll(io.LimitReader(r, 1<<20))
			if err != nil {
				return nil, err
			}
			data = bytes.TrimPrefix(data, []byte("RTSTCONT"))
			return &testReader{recs: bytes.Split(data, []byte{0})}, nil
		},
	})
}

func TestDecoderContainer(t *testing.T) {
	input := "RTSTCONT" + win1 + "\x00BAD\x00" + win2 + "\x00not json"
	got, st := outcome(t, input, format.DecoderOptions{})
	want := []string{"windows", "!corrupt_chunk", "windows", "!invalid_json"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if st.Records != 4 {
		t.Errorf("records %d, want 4", st.Records)
	}
}

// TestDecoderIDs: every record's id, kept or quarantined, in lines and in
// containers, is event.DeriveID of the source, position and raw bytes the
// Decoder reports (its own hashing must not drift from the definition).
func TestDecoderIDs(t *testing.T) {
	long := strings.Repeat("x", 70<<10) // past the id scratch buffer kept
	inputs := []string{
		win1 + "\n" + long + "\n\n  " + win2 + "\nnot json\n" + win1,
		"RTSTCONT" + win1 + "\x00BAD\x00" + win2 + "\x00not json",
	}
	for _, in := range inputs {
		d := format.NewDecoder(strings.NewReader(in), "file:/ids", format.DecoderOptions{})
		n := 0
		for ev := event.New(); ; n++ {
			err := d.Next(ev)
			if errors.Is(err, io.EOF) {
				break
			}
			var re *format.RecordError
			if err != nil && !errors.As(err, &re) {
				t.Fatal(err)
			}
			raw, pos := d.Last()
			if want := event.DeriveID("file:/ids", pos, raw); ev.ID != want {
				t.Errorf("record %d at %q: id %s, want %s", n, pos, ev.ID, want)
			}
		}
		if n < 4 {
			t.Errorf("%d records, want at least 4", n)
		}
	}
}

// TestDecoderRawCopies: each event keeps its own copy of its record, also
// after later records are decoded and when its Raw is appended to.
func TestDecoderRawCopies(t *testing.T) {
	long := strings.Repeat("y", 8<<10) // past the shared block's size limit
	lines := []string{win1, win2, "not json", long, win1}
	d := format.NewDecoder(strings.NewReader(strings.Join(lines, "\n")), "file:/raw", format.DecoderOptions{})
	var evs []*event.Event
	for {
		ev := event.New()
		err := d.Next(ev)
		if errors.Is(err, io.EOF) {
			break
		}
		evs = append(evs, ev)
	}
	if len(evs) != len(lines) {
		t.Fatalf("%d events, want %d", len(evs), len(lines))
	}
	_ = append(evs[0].Raw, "XXXX"...)
	_ = append(evs[1].Raw, "XXXX"...)
	for i, ev := range evs {
		if string(ev.Raw) != lines[i] {
			t.Errorf("event %d raw %.40q, want %.40q", i, ev.Raw, lines[i])
		}
	}
}

// lineReader returns one line per Read, as a slow stream delivers them.
type lineReader struct{ lines []string }

func (r *lineReader) Read(p []byte) (int, error) {
	if len(r.lines) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.lines[0])
	r.lines[0] = r.lines[0][n:]
	if r.lines[0] == "" {
		r.lines = r.lines[1:]
	}
	return n, nil
}

// TestDecoderReceived: Event.Received is the clock read when the record's
// bytes were read: records read together share it, records that arrive
// later get a later one.
func TestDecoderReceived(t *testing.T) {
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	received := func(r io.Reader) []time.Time {
		d := format.NewDecoder(r, "file:/r", format.DecoderOptions{Parse: format.Options{Now: now}})
		var out []time.Time
		for ev := event.New(); ; {
			err := d.Next(ev)
			if errors.Is(err, io.EOF) {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ev.Received)
		}
	}
	lines := []string{win1 + "\n", win2 + "\n", win1 + "\n"}
	together := received(strings.NewReader(strings.Join(lines, "")))
	if len(together) != 3 || !together[0].Equal(together[2]) || together[0].IsZero() {
		t.Errorf("one read: received %v, want one time", together)
	}
	apart := received(&lineReader{lines: lines})
	if len(apart) != 3 || !apart[0].Before(apart[1]) || !apart[1].Before(apart[2]) {
		t.Errorf("one read per line: received %v, want increasing", apart)
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add([]byte(win1 + "\n" + win2))
	f.Add([]byte("[" + win1 + "," + win2 + "]"))
	f.Add([]byte("{\n \"a\": {\n\"b\": 1}\n{\"c\":\"\n}"))
	f.Add([]byte("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n#separator \\x09\n"))
	f.Add([]byte("RTSTCONT" + win1 + "\x00BAD"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		formattest.DecodeAll(t, data, format.DecoderOptions{MaxRecordBytes: 4096})
	})
}

// BenchmarkDecoderAuto measures the Decoder with auto-detection per record
// (one op = one record) on a mixed windows/auth/zeek stream.
func BenchmarkDecoderAuto(b *testing.B) {
	var in bytes.Buffer
	for range 500 {
		in.WriteString(win1 + "\n" + win2 + "\n")
		in.WriteString("Dec 10 07:13:43 LabSZ sshd[24227]: Failed password for root from 5.36.59.76 port 42393 ssh2\n")
		in.WriteString(`{"ts":1663683561.702855,"uid":"Cw","id.orig_h":"10.0.83.193","id.orig_p":33728,"id.resp_h":"172.16.1.49","id.resp_p":22}` + "\n")
	}
	ev := event.New()
	d := format.NewDecoder(bytes.NewReader(in.Bytes()), "bench", format.DecoderOptions{})
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := d.Next(ev); err != nil {
			if !errors.Is(err, io.EOF) {
				b.Fatal(err)
			}
			d = format.NewDecoder(bytes.NewReader(in.Bytes()), "bench", format.DecoderOptions{})
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// TestDecoderEvtx decodes SigmaHQ regression .evtx files through the
// registered container reader and checks each yields as many windows events
// as its JSON rendition, with the same event ids.
func TestDecoderEvtx(t *testing.T) {
	if len(format.Streams()) < 2 { // the test container is always there
		t.Skip("no .evtx reader registered")
	}
	root := testutil.SharedData(t, "sigma/regression_data")
	var evtxs []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && filepath.Ext(p) == ".evtx" {
			evtxs = append(evtxs, p)
		}
		return nil
	})
	checked := 0
	defer func() { t.Logf("%d evtx files compared", checked) }()
	for _, path := range evtxs {
		jsonPath := strings.TrimSuffix(path, ".evtx") + ".json"
		jdata, err := os.ReadFile(jsonPath)
		if err != nil {
			continue
		}
		edata, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		jres, _ := formattest.DecodeAll(t, jdata, format.DecoderOptions{})
		eres, est := formattest.DecodeAll(t, edata, format.DecoderOptions{})
		if est.Quarantined != 0 || len(eres) != len(jres) {
			t.Errorf("%s: evtx %d results %+v, json %d", filepath.Base(path), len(eres), est, len(jres))
			continue
		}
		for i := range eres {
			if eres[i].Format != "windows" {
				t.Errorf("%s #%d: format %q", filepath.Base(path), i, eres[i].Format)
			}
			// Both layouts must normalize to the same contract fields. The two
			// renderers differ in GUID braces and hex padding, so values are
			// compared for the fields detectors match most, names for all.
			for k, jv := range jres[i].Fields {
				ev, ok := eres[i].Fields[k]
				if strings.HasPrefix(k, "winlog.event_data.") && !ok {
					t.Errorf("%s #%d: %s missing from the evtx event", filepath.Base(path), i, k)
				}
				switch k {
				case "winlog.event_id", "winlog.channel", "winlog.computer_name", "winlog.record_id", "winlog.provider_name",
					"event.dataset", "process.executable", "process.command_line", "process.parent.executable", "user.name",
					"file.path", "registry.path", "winlog.event_data.Image", "winlog.event_data.CommandLine":
					// The regression JSON trims trailing spaces the evtx data has.
					if js, ok := jv.(string); ok {
						jv = strings.TrimSpace(js)
						es, _ := ev.(string)
						ev = strings.TrimSpace(es)
					}
					if diff := cmp.Diff(jv, ev); diff != "" {
						t.Errorf("%s #%d %s (-json +evtx):\n%s", filepath.Base(path), i, k, diff)
					}
				}
			}
		}
	}
}
