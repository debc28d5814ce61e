package zeek_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	_ "github.com/rampart-ids/rampart/internal/format/all"
	"github.com/rampart-ids/rampart/internal/format/formattest"
	"github.com/rampart-ids/rampart/internal/format/zeek"
	"github.com/rampart-ids/rampart/internal/testutil"
)

func TestGolden(t *testing.T) { formattest.Golden(t, zeek.Name) }

const hdr = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n" +
	"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\tqtype_name\tAA\tanswers\tTTLs\n" +
	"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tstring\tbool\tvector[string]\tvector[interval]\n"

func TestParseTSV(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    map[string]any
		wantErr string
	}{
		{
			name: "typed columns",
			line: "1655159382.670825\tC6c\t131.159.25.7\t46791\t147.32.83.234\t53\tudp\twww.google.com\tA\tT\t1.2.3.4,5.6.7.8\t60.0,60.0",
			want: map[string]any{
				"zeek.ts": 1655159382.670825, "zeek.id.orig_p": int64(46791), "zeek.AA": true,
				"zeek.answers": []string{"1.2.3.4", "5.6.7.8"}, "source.ip": "131.159.25.7", "source.port": int64(46791),
				"destination.port": int64(53), "network.transport": "udp", "dns.question.name": "www.google.com",
				"dns.question.type": "A", "event.dataset": "zeek.dns", "zeek.uid": "C6c",
			},
		},
		{
			name: "unset and empty are absent",
			line: "1655159382.670825\tC6c\t131.159.25.7\t46791\t147.32.83.234\t53\tudp\t-\t(empty)\tF\t(empty)\t-",
			want: map[string]any{"zeek.query": nil, "zeek.qtype_name": nil, "zeek.answers": nil, "zeek.TTLs": nil, "zeek.AA": false},
		},
		{name: "too few columns", line: "1655159382.670825\tC6c\t131.159.25.7", wantErr: "zeek_columns"},
	}
	f, _ := format.Lookup(zeek.Name)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := f.NewParser(formattest.Opts())
			ev := event.New()
			for _, h := range strings.Split(strings.TrimSpace(hdr), "\n") {
				if err := p.Parse([]byte(h), ev); err != format.ErrNoEvent {
					t.Fatalf("header %q: %v", h, err)
				}
			}
			err := p.Parse([]byte(tc.line), ev)
			if tc.wantErr != "" {
				re, ok := err.(*format.RecordError)
				if !ok || re.Reason != tc.wantErr {
					t.Fatalf("got %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			formattest.CheckTypes(t, ev)
			for k, want := range tc.want {
				if diff := cmp.Diff(want, ev.Fields[k]); diff != "" {
					t.Errorf("field %s (-want +got):\n%s", k, diff)
				}
			}
			if ev.Time.IsZero() {
				t.Errorf("no event time")
			}
		})
	}
}

// TestSharedCorpus reads every Stratosphere Zeek log through auto-detection:
// no record may be quarantined and every event has a dataset and a time.
func TestSharedCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus test")
	}
	root := testutil.SharedData(t, "stratosphere-zeek")
	files, _ := filepath.Glob(filepath.Join(root, "*", "*.log*"))
	more, _ := filepath.Glob(filepath.Join(root, "*", "data", "*.log*"))
	files = append(files, more...)
	if len(files) == 0 {
		t.Skip("no zeek logs")
	}
	total := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		res, st := formattest.DecodeAll(t, data, format.DecoderOptions{Parse: formattest.Opts()})
		if st.Quarantined != 0 || st.Formats["zeek"] != st.Events {
			t.Errorf("%s: %+v", path, st)
		}
		for _, r := range res {
			if r.Error == "" && (r.Time == "" || r.Fields["event.dataset"] == "zeek.unknown") {
				t.Errorf("%s %s: time %q dataset %v", path, r.Pos, r.Time, r.Fields["event.dataset"])
				break
			}
		}
		total += int(st.Events)
	}
	t.Logf("%d files, %d events", len(files), total)
}

func FuzzParse(f *testing.F) {
	for _, n := range []string{"conn.in", "dns.in", "json.in"} {
		data, err := os.ReadFile("testdata/golden/" + n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	fm, _ := format.Lookup(zeek.Name)
	f.Fuzz(func(t *testing.T, data []byte) {
		// One stream: headers then records, so the header state is exercised.
		formattest.FuzzParse(t, fm, formattest.Lines(data)...)
	})
}

func BenchmarkParseZeek(b *testing.B) {
	data, err := os.ReadFile("testdata/golden/conn.in")
	if err != nil {
		b.Fatal(err)
	}
	lines := formattest.Lines(data)
	fm, _ := format.Lookup(zeek.Name)
	p := fm.NewParser(formattest.Opts())
	ev := event.New()
	var recs [][]byte
	for _, l := range lines {
		if err := p.Parse(l, ev); err == format.ErrNoEvent {
			continue
		}
		recs = append(recs, l)
	}
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
