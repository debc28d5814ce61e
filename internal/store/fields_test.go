package store_test

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rampart-ids/rampart/internal/store"
)

func TestEncodeFields(t *testing.T) {
	tests := []struct {
		name    string
		in      map[string]any
		want    string
		wantErr string
	}{
		{name: "empty", in: map[string]any{}, want: `{}`},
		{name: "nil map", in: nil, want: `{}`},
		{name: "sorted keys and plain json", in: map[string]any{"b": "x", "a": int64(-3), "c": true},
			want: `{"a":-3,"b":"x","c":true}`},
		{name: "whole float keeps a point", in: map[string]any{"f": 2.0, "g": 1e21, "h": 0.5},
			want: `{"f":2.0,"g":1e+21,"h":0.5}`},
		{name: "special floats tagged", in: map[string]any{"n": math.NaN(), "p": math.Inf(1), "m": math.Inf(-1)},
			want: `{"m":{"f":"-Inf"},"n":{"f":"NaN"},"p":{"f":"+Inf"}}`},
		{name: "escapes", in: map[string]any{"s": "a\"b\\c\n\x00\x1f\u2028é<"},
			want: `{"s":"a\"b\\c\n\u0000\u001f` + "\u2028" + `é<"}`},
		{name: "invalid utf8 as base64", in: map[string]any{"s": "\xff"}, want: `{"s":{"b64":"/w=="}}`},
		{name: "list", in: map[string]any{"l": []string{"x", "\xfe"}}, want: `{"l":["x",{"b64":"/g=="}]}`},
		{name: "int rejected", in: map[string]any{"n": 1}, wantErr: `field "n" has unsupported type int`},
		{name: "nil rejected", in: map[string]any{"n": nil}, wantErr: `unsupported type <nil>`},
		{name: "any list rejected", in: map[string]any{"l": []any{"x"}}, wantErr: `unsupported type []interface {}`},
		{name: "invalid utf8 key rejected", in: map[string]any{"\xff": "x"}, wantErr: "not valid UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := store.EncodeFields(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("EncodeFields: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			back, err := store.DecodeFields(got)
			if err != nil {
				t.Fatalf("DecodeFields(%s): %v", got, err)
			}
			if diff := cmp.Diff(tc.in, back, cmpopts.EquateNaNs(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("round trip (-in +out):\n%s", diff)
			}
		})
	}
}

func TestDecodeFieldsErrors(t *testing.T) {
	tests := []struct {
		in, wantErr string
	}{
		{``, "decoding fields json"},
		{`null`, "not an object"},
		{`[]`, "decoding fields json"},
		{`{"a":null}`, `field "a": unsupported value`},
		{`{"a":{"x":1}}`, `field "a"`},
		{`{"a":{"f":"Nope"}}`, "unknown special float"},
		{`{"a":{"b64":"!!"}}`, "bad base64"},
		{`{"a":{"b64":"AA==","f":"NaN"}}`, "exactly one key"},
		{`{"a":99999999999999999999}`, "bad integer"},
		{`{"a":[1]}`, "list item 0"},
		{`{"a":[{"f":"NaN"}]}`, "list item 0"},
		{`{"a":{}}`, "exactly one key"},
	}
	for _, tc := range tests {
		_, err := store.DecodeFields([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("DecodeFields(%s) error = %v, want one containing %q", tc.in, err, tc.wantErr)
		}
	}
}

// FuzzFieldsRoundTrip checks that any values of the allowed types survive
// an encode/decode round trip exactly.
func FuzzFieldsRoundTrip(f *testing.F) {
	f.Add("message", "hello", int64(1), 1.5, true, "a,b")
	f.Add("bad", "\xff\x00\"\\", int64(math.MinInt64), math.Inf(-1), false, "\xc3\x28,")
	f.Add("", "", int64(0), 0.0, false, "")
	f.Fuzz(func(t *testing.T, key, s string, n int64, fl float64, b bool, list string) {
		if !strings.HasPrefix(key, "k") {
			key = "k" + key
		}
		in := map[string]any{"s" + key: s, "n" + key: n, "f" + key: fl, "b" + key: b, "l" + key: strings.Split(list, ",")}
		enc, err := store.EncodeFields(in)
		if err != nil {
			if strings.Contains(err.Error(), "not valid UTF-8") {
				return // invalid keys are rejected by design
			}
			t.Fatalf("EncodeFields: %v", err)
		}
		out, err := store.DecodeFields(enc)
		if err != nil {
			t.Fatalf("DecodeFields(%s): %v", enc, err)
		}
		if diff := cmp.Diff(in, out, cmpopts.EquateNaNs()); diff != "" {
			t.Fatalf("round trip of %s (-in +out):\n%s", enc, diff)
		}
		if fl == 0 && math.Signbit(fl) != math.Signbit(out["f"+key].(float64)) {
			t.Fatalf("sign of zero lost")
		}
	})
}

// FuzzDecodeFields feeds arbitrary bytes (as a corrupt row would) to
// DecodeFields: it must return an error or values of the allowed types that
// re-encode to an equivalent document, never panic.
func FuzzDecodeFields(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := store.DecodeFields(data)
		if err != nil {
			return
		}
		enc, err := store.EncodeFields(m)
		if err != nil {
			t.Fatalf("decoded value does not re-encode: %v (from %q)", err, data)
		}
		again, err := store.DecodeFields(enc)
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", enc, err)
		}
		if diff := cmp.Diff(m, again, cmpopts.EquateNaNs()); diff != "" {
			t.Fatalf("decode/encode/decode not stable (-first +second):\n%s", diff)
		}
	})
}

// TestEncodeFieldsKeySets encodes maps that share a length but not their
// keys, and the same keys with other values, so a cached key order is never
// applied to a different key set.
func TestEncodeFieldsKeySets(t *testing.T) {
	tests := []struct {
		in   map[string]any
		want string
	}{
		{map[string]any{"b": "1", "a": int64(2)}, `{"a":2,"b":"1"}`},
		{map[string]any{"b": "1", "c": int64(2)}, `{"b":"1","c":2}`},
		{map[string]any{"a": true, "b": []string{"x"}}, `{"a":true,"b":["x"]}`},
		{map[string]any{"a": "q\"", "b": 0.5, "c": false}, `{"a":"q\"","b":0.5,"c":false}`},
		{map[string]any{"b": "1", "a": int64(2)}, `{"a":2,"b":"1"}`},
		{map[string]any{"b": "1", "a": 1}, ""}, // cached order, unsupported value
		// Same lengths and last eight bytes: one key-set hash, two key sets.
		{map[string]any{"x.suffix01": "1", "y.suffix02": "2"}, `{"x.suffix01":"1","y.suffix02":"2"}`},
		{map[string]any{"z.suffix01": "1", "w.suffix02": "2"}, `{"w.suffix02":"2","z.suffix01":"1"}`},
	}
	for i := 0; i < 2; i++ { // the second pass runs on cached key orders
		for _, tc := range tests {
			got, err := store.EncodeFields(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Errorf("EncodeFields(%v) = %s, want an error", tc.in, got)
				}
				continue
			}
			if err != nil || string(got) != tc.want {
				t.Errorf("EncodeFields(%v) = %s, %v; want %s", tc.in, got, err, tc.want)
			}
		}
	}
	prefix := []byte("row:")
	got, err := store.AppendFields(prefix, map[string]any{"k": "v"})
	if err != nil || string(got) != `row:{"k":"v"}` {
		t.Errorf("AppendFields = %q, %v", got, err)
	}
	if got, err := store.AppendFields(prefix, map[string]any{"k": 1}); err == nil || string(got) != "row:" {
		t.Errorf("AppendFields with a bad value = %q, %v; want the buffer unchanged and an error", got, err)
	}
}

func BenchmarkEncodeFields(b *testing.B) {
	fields := map[string]any{"@timestamp": "2020-08-02T16:24:07.551365Z", "event.code": "7", "host.name": "MSEDGEWIN10",
		"process.pid": int64(5252), "related.hash": []string{"9d1873aefc3f59e649f3fb822c1fa3d52c39970e"}}
	for _, k := range []string{"Company", "Description", "FileVersion", "Hashes", "Image", "ImageLoaded", "OriginalFileName",
		"ProcessGuid", "ProcessId", "Product", "SignatureStatus", "Signed", "UtcTime"} {
		fields["winlog.event_data."+k] = "C:\\Windows\\System32\\" + k
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = store.AppendFields(buf[:0], fields); err != nil {
			b.Fatal(err)
		}
	}
}
