// Package formattest holds the test helpers shared by the record formats:
// golden files (records in, normalized fields out), the field type contract
// check and a fuzz body.
package formattest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
)

// Opts are the deterministic parse options tests use: UTC, year 2026 for
// year-less timestamps, and a fixed clock.
func Opts() format.Options {
	return format.Options{
		Location: time.UTC,
		Now:      func() time.Time { return time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC) },
	}
}

// CheckTypes fails when a field holds a type outside the event contract.
func CheckTypes(t testing.TB, ev *event.Event) {
	t.Helper()
	for k, v := range ev.Fields {
		switch x := v.(type) {
		case string:
			if x == "" {
				t.Errorf("field %s is an empty string (absent and empty must be the same)", k)
			}
		case int64, float64, bool, []string:
		default:
			t.Errorf("field %s has type %T, outside the event contract", k, v)
		}
		if k == "" {
			t.Errorf("empty field name")
		}
	}
}

// Result is one decoded record, as written to golden files.
type Result struct {
	Pos    string         `json:"pos"`
	Format string         `json:"format,omitempty"`
	Time   string         `json:"time,omitempty"`
	Fields map[string]any `json:"fields,omitempty"`
	Error  string         `json:"error,omitempty"`
}

// DecodeAll runs a Decoder over data and returns every result, checking
// that every record is accounted for.
func DecodeAll(t testing.TB, data []byte, opts format.DecoderOptions) ([]Result, format.DecoderStats) {
	t.Helper()
	d := format.NewDecoder(bytes.NewReader(data), "test", opts)
	var out []Result
	ev := event.New()
	for {
		err := d.Next(ev)
		if errors.Is(err, io.EOF) {
			break
		}
		_, pos := d.Last()
		var re *format.RecordError
		switch {
		case err == nil:
			CheckTypes(t, ev)
			r := Result{Pos: pos, Format: ev.Format, Fields: map[string]any{}}
			if !ev.Time.IsZero() {
				r.Time = ev.Time.UTC().Format(time.RFC3339Nano)
			}
			for k, v := range ev.Fields {
				r.Fields[k] = v
			}
			out = append(out, r)
		case errors.As(err, &re):
			out = append(out, Result{Pos: pos, Error: re.Reason})
		default:
			t.Fatalf("decoder failed: %v", err)
		}
	}
	st := d.Stats()
	if st.Records != st.Events+st.Quarantined+st.NoEvent {
		t.Errorf("records %d != events %d + quarantined %d + no-event %d", st.Records, st.Events, st.Quarantined, st.NoEvent)
	}
	return out, st
}

// Events decodes r (named source) and returns its events; records that
// could not be read or carry no event are counted in skipped (the formats'
// own tests account for them), any other error fails tb.
func Events(tb testing.TB, r io.Reader, source string, opts format.DecoderOptions) (evs []*event.Event, skipped int) {
	tb.Helper()
	d := format.NewDecoder(r, source, opts)
	for {
		ev := event.New()
		err := d.Next(ev)
		if errors.Is(err, io.EOF) {
			return evs, skipped
		}
		var re *format.RecordError
		if errors.As(err, &re) || errors.Is(err, format.ErrNoEvent) {
			skipped++
			continue
		}
		if err != nil {
			tb.Fatalf("%s: %v", source, err)
		}
		evs = append(evs, ev)
	}
}

// FileEvents is Events over the file at path, named "file:" and its base name.
func FileEvents(tb testing.TB, path string, opts format.DecoderOptions) (evs []*event.Event, skipped int) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	return Events(tb, f, "file:"+filepath.Base(path), opts)
}

// Golden decodes every testdata/golden/*.in file with format name and
// compares the JSON results with the matching .golden file.
// UPDATE_GOLDEN=1 rewrites the .golden files.
func Golden(t *testing.T, name string) {
	t.Helper()
	ins, err := filepath.Glob(filepath.Join("testdata", "golden", "*.in"))
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden inputs in testdata/golden: %v", err)
	}
	for _, in := range ins {
		t.Run(filepath.Base(in), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			res, _ := DecodeAll(t, data, format.DecoderOptions{Format: name, Parse: Opts()})
			var buf bytes.Buffer
			for _, r := range res {
				b, err := marshalSorted(r)
				if err != nil {
					t.Fatal(err)
				}
				buf.Write(b)
				buf.WriteByte('\n')
			}
			gp := strings.TrimSuffix(in, ".in") + ".golden"
			if os.Getenv("UPDATE_GOLDEN") != "" {
				if err := os.WriteFile(gp, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(gp)
			if err != nil {
				t.Fatalf("reading golden file (run with UPDATE_GOLDEN=1 to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), buf.String()); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", gp, diff)
			}
		})
	}
}

// marshalSorted renders a Result with sorted field keys, one line.
func marshalSorted(r Result) ([]byte, error) {
	keys := make([]string, 0, len(r.Fields))
	for k := range r.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"pos":%q`, r.Pos)
	if r.Format != "" {
		fmt.Fprintf(&b, `,"format":%q`, r.Format)
	}
	if r.Time != "" {
		fmt.Fprintf(&b, `,"time":%q`, r.Time)
	}
	if r.Error != "" {
		fmt.Fprintf(&b, `,"error":%q`, r.Error)
	}
	if len(keys) > 0 {
		b.WriteString(`,"fields":{`)
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			vb, err := json.Marshal(r.Fields[k])
			if err != nil {
				return nil, err
			}
			b.Write(kb)
			b.WriteByte(':')
			b.Write(vb)
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// FuzzParse is the body of a format's fuzz target: Parse must not panic,
// must return nil, ErrNoEvent or a *RecordError, and must only emit
// contract types.
func FuzzParse(t *testing.T, f format.Format, recs ...[]byte) {
	p := f.NewParser(Opts())
	for _, rec := range recs {
		_ = f.Sniff(rec)
		ev := event.New()
		err := p.Parse(rec, ev)
		var re *format.RecordError
		switch {
		case err == nil:
			CheckTypes(t, ev)
			if ev.Format == "" {
				t.Errorf("Parse succeeded without setting Format")
			}
		case errors.Is(err, format.ErrNoEvent), errors.As(err, &re):
			if re != nil && re.Reason == "" {
				t.Errorf("RecordError without a reason: %v", err)
			}
		default:
			t.Errorf("Parse returned %T %v, want nil, ErrNoEvent or *RecordError", err, err)
		}
	}
}

// Lines splits data into lines for fuzz seeds.
func Lines(data []byte) [][]byte {
	var out [][]byte
	for l := range bytes.SplitSeq(data, []byte{'\n'}) {
		if len(bytes.TrimSpace(l)) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// Case is one table test of a format: records are parsed in order by one
// parser (earlier ones set up stream state); the last one is checked.
type Case struct {
	Name    string
	Recs    []string
	Want    map[string]any // field → value; nil value means "absent"
	Time    string         // RFC 3339 event time, if checked
	WantErr string         // RecordError reason
}

// RunCases runs table tests against the registered format name.
func RunCases(t *testing.T, name string, cases []Case) {
	t.Helper()
	f, ok := format.Lookup(name)
	if !ok {
		t.Fatalf("format %s not registered", name)
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			p := f.NewParser(Opts())
			ev := event.New()
			var err error
			for _, r := range tc.Recs {
				ev.Reset()
				err = p.Parse([]byte(r), ev)
			}
			if tc.WantErr != "" {
				var re *format.RecordError
				if !errors.As(err, &re) || re.Reason != tc.WantErr {
					t.Fatalf("got error %v, want reason %s", err, tc.WantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			CheckTypes(t, ev)
			if ev.Format != name {
				t.Errorf("Format %q, want %q", ev.Format, name)
			}
			if tc.Time != "" {
				if got := ev.Time.UTC().Format(time.RFC3339Nano); got != tc.Time {
					t.Errorf("time %s, want %s", got, tc.Time)
				}
			}
			for k, want := range tc.Want {
				if diff := cmp.Diff(want, ev.Fields[k]); diff != "" {
					t.Errorf("field %s (-want +got):\n%s", k, diff)
				}
			}
		})
	}
}

// Bench benchmarks Parse of the format over the event-producing lines of a
// file, reporting records/s.
func Bench(b *testing.B, name, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	f, _ := format.Lookup(name)
	p := f.NewParser(Opts())
	ev := event.New()
	var recs [][]byte
	for _, l := range Lines(data) {
		ev.Reset()
		if p.Parse(l, ev) == nil {
			recs = append(recs, l)
		}
	}
	if len(recs) == 0 {
		b.Fatal("no parsable records")
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		ev.Reset()
		_ = p.Parse(recs[n%len(recs)], ev)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// Fuzz registers the seeds (lines of the files) and fuzzes Parse of the format.
func Fuzz(f *testing.F, name string, seedFiles ...string) {
	for _, p := range seedFiles {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range Lines(data) {
			f.Add(l)
		}
	}
	fm, ok := format.Lookup(name)
	if !ok {
		f.Fatalf("format %s not registered", name)
	}
	f.Fuzz(func(t *testing.T, rec []byte) { FuzzParse(t, fm, rec) })
}
