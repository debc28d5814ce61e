package fieldkit_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/valyala/fastjson"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format/fieldkit"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339 UTC, "" = not a time
	}{
		{"2021-10-20 13:39:12.731903", "2021-10-20T13:39:12.731903Z"},
		{"2025-11-27T07:40:10.165324Z", "2025-11-27T07:40:10.165324Z"},
		{"2017-04-07T22:24:37.251547+0100", "2017-04-07T21:24:37.251547Z"},
		{"2017-04-07T22:24:37+01:00", "2017-04-07T21:24:37Z"},
		{"1655071198.444458", "2022-06-12T21:59:58.444458Z"},
		{"1700000000123", "2023-11-14T22:13:20.123Z"},
		{"1700000000123.5", "2023-11-14T22:13:20.1235Z"},
		{"10/Oct/2000:13:55:36 -0700", "2000-10-10T20:55:36Z"},
		{"yesterday", ""},
		{"", ""},
		{"12a", ""},
	}
	for _, tc := range tests {
		got, ok := fieldkit.ParseTime(tc.in, nil)
		gs := ""
		if ok {
			gs = got.Format(time.RFC3339Nano)
		}
		if gs != tc.want {
			t.Errorf("ParseTime(%q) = %q, want %q", tc.in, gs, tc.want)
		}
	}
}

func TestHasJSONKey(t *testing.T) {
	tests := []struct {
		rec, key string
		want     bool
	}{
		{`{"EventID": 1}`, "EventID", true},
		{`{"EventID"  :1}`, "EventID", true},
		{`{"x":"EventID"}`, "EventID", false},
		{`{"MyEventID":1}`, "EventID", false},
		{`{"x":"\"EventID\" is text","EventID":2}`, "EventID", true},
		{`EventID`, "EventID", false},
	}
	for _, tc := range tests {
		if got := fieldkit.HasJSONKey([]byte(tc.rec), tc.key); got != tc.want {
			t.Errorf("HasJSONKey(%s, %s) = %v, want %v", tc.rec, tc.key, got, tc.want)
		}
	}
}

func TestJSONDepth(t *testing.T) {
	tests := []struct {
		rec  string
		want int
	}{
		{`{}`, 1},
		{`{"a":[{"b":1}]}`, 3},
		{`{"a":"[[[[{{{{"}`, 1},
		{`{"a":"\"[["}`, 1},
		{`1`, 0},
	}
	for _, tc := range tests {
		if got := fieldkit.JSONDepth([]byte(tc.rec)); got != tc.want {
			t.Errorf("JSONDepth(%s) = %d, want %d", tc.rec, got, tc.want)
		}
	}
}

func TestFlattener(t *testing.T) {
	var p fastjson.Parser
	v, err := p.Parse(`{"a":{"b":1,"c":"x","d.e":true,"n":null},"arr":["p",2],"objs":[{"k":"v1"},{"k":"v2"}],"one":["only"],"f":1.5,"empty":[]}`)
	if err != nil {
		t.Fatal(err)
	}
	ev := event.New()
	var fl fieldkit.Flattener
	fl.Reset(ev)
	o, _ := v.Object()
	fl.Object("", o)
	want := map[string]any{
		"a.b": int64(1), "a.c": "x", "a.d.e": true, "arr": []string{"p", "2"},
		"objs.k": []string{"v1", "v2"}, "one": []string{"only"}, "f": 1.5,
	}
	if diff := cmp.Diff(want, ev.Fields); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFlattenerLimit(t *testing.T) {
	var b []byte
	b = append(b, '{')
	for i := range fieldkit.MaxFields + 10 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, []byte(`"k`+itoa(i)+`":1`)...)
	}
	b = append(b, '}')
	var p fastjson.Parser
	v, err := p.ParseBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	ev := event.New()
	var fl fieldkit.Flattener
	fl.Reset(ev)
	o, _ := v.Object()
	fl.Object("", o)
	if len(ev.Fields) != fieldkit.MaxFields+1 || ev.Fields[fieldkit.TruncatedField] != true {
		t.Errorf("got %d fields, truncated=%v", len(ev.Fields), ev.Fields[fieldkit.TruncatedField])
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestParseInt(t *testing.T) {
	for in, want := range map[string]int64{"42": 42, "0x1a4c": 6732, "0X0000000000000300": 768, " 7 ": 7} {
		if got, ok := fieldkit.ParseInt(in); !ok || got != want {
			t.Errorf("ParseInt(%q) = %d %v, want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "x", "0x", "0xffffffffffffffffff", "1.5"} {
		if _, ok := fieldkit.ParseInt(in); ok {
			t.Errorf("ParseInt(%q) ok, want failure", in)
		}
	}
}

func TestParseTimeZones(t *testing.T) {
	berlin := time.FixedZone("X", 2*3600)
	tests := []struct {
		in   string
		want string
	}{
		{"2021-10-20 13:39:12", "2021-10-20T11:39:12Z"}, // zone-less: loc
		{"2021-10-20T13:39:12.5-0130", "2021-10-20T15:09:12.5Z"},
		{"2021-10-20T13:39:12,25Z", "2021-10-20T13:39:12.25Z"},
		{"2021-02-30T13:39:12Z", ""},
		{"2021-10-20T25:39:12Z", ""},
		{"2021-10-20T13:39:12 junk", ""},
	}
	for _, tc := range tests {
		got, ok := fieldkit.ParseTime(tc.in, berlin)
		gs := ""
		if ok {
			gs = got.Format(time.RFC3339Nano)
		}
		if gs != tc.want {
			t.Errorf("ParseTime(%q) = %q, want %q", tc.in, gs, tc.want)
		}
	}
}
