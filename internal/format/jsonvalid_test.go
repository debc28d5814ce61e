package format

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

var validSeeds = []string{
	`{}`, `[]`, `{"a":1}`, ` {"a" : [1, 2.5, -0.1e+3, true, false, null, "x\"\\\/\b\f\n\r\t\u00e9"]} `,
	`{"a":{"b":{"c":[[],{}]}}}`, `"s"`, `0`, `-0`, `1E9`, `1e-0`, `null`,
	`{"a":1,}`, `{"a":}`, `{"a"1}`, `{a:1}`, `[1,]`, `[,1]`, `{"a":1}}`, `{"a":1} x`, `{"a":1`, `[`, `{`,
	`01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `tru`, `nul`, `truex`, "\"a\x01\"", `"\x"`, `"\u12G4"`, `"\u12"`,
	`"abc`, "\"\xff\xfe\"", `{"a":1 "b":2}`, `[1 2]`, ` `, ``, "\t{}\r\n", `{"":""}`, `[{"a":[{"b":[]}]}]`,
	`{"a":-}`, `{"a":--1}`, `{"a":1.5e3.2}`, `{"a":"\"}`, `[1]]`, `{"a":[}`, `{]`, `[}`,
}

func TestValidJSON(t *testing.T) {
	seeds := append([]string{}, validSeeds...)
	seeds = append(seeds, strings.Repeat("[", stdMaxDepth)+strings.Repeat("]", stdMaxDepth),
		strings.Repeat("[", stdMaxDepth+1)+strings.Repeat("]", stdMaxDepth+1),
		strings.Repeat(`{"a":`, stdMaxDepth)+"1"+strings.Repeat("}", stdMaxDepth),
		strings.Repeat(`{"a":`, stdMaxDepth+1)+"{}"+strings.Repeat("}", stdMaxDepth+1))
	for _, s := range seeds {
		if got, want := ValidJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("ValidJSON(%.60q) = %v, json.Valid says %v", s, got, want)
		}
	}
}

// FuzzValidJSON holds validJSON equal to json.Valid.
func FuzzValidJSON(f *testing.F) {
	for _, s := range validSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := ValidJSON(b), json.Valid(b); got != want {
			t.Errorf("ValidJSON(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	// A Sysmon event in the shape of the windows-evtx JSONL corpus.
	line := []byte(`{"Provider": "Microsoft-Windows-Sysmon", "EventID": "7", "Version": "3", "Level": "4", "Task": "7", ` +
		`"Opcode": "0", "Keywords": "0x8000000000000000", "TimeCreated": "2020-08-02 16:24:07.551365", "EventRecordID": "339882", ` +
		`"ProcessID": "3200", "ThreadID": "3596", "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "WS01", ` +
		`"UserID": "S-1-5-18", "EventData": {"RuleName": null, "UtcTime": "2020-08-02 16:24:07.483", ` +
		`"ProcessGuid": "{747f3d96-e8a7-5f26-0000-0010230d1a00}", "ProcessId": "5252", "Image": "C:\\Windows\\System32\\svc.exe", ` +
		`"ImageLoaded": "C:\\Windows\\System32\\lib.dll", "FileVersion": "?", "Description": "?", "Product": "?", "Company": "?", ` +
		`"Hashes": "SHA1=9D1873AEFC3F59E649F3FB822C1FA3D52C39970E,MD5=9B97E05E67107AA18BBF3E4F5F121B2B", "Signed": "false", ` +
		`"Signature": null, "SignatureStatus": "Unavailable", "Count": 12, "Ratio": -0.5e3}}`)
	for _, bc := range []struct {
		name  string
		valid func([]byte) bool
	}{{"ValidJSON", ValidJSON}, {"json.Valid", json.Valid}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				if !bc.valid(line) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// TestCheckJSON pins the order of reasons every input shares.
func TestCheckJSON(t *testing.T) {
	deep := strings.Repeat("[", 65) + strings.Repeat("]", 65)
	tests := []struct {
		name, rec, want string
	}{
		{"valid", `{"a":[1,{"b":null}]}`, ""},
		{"at the depth limit", strings.Repeat("[", 64) + strings.Repeat("]", 64), ""},
		{"over the depth limit", deep, ReasonTooDeep},
		{"deep and unclosed", strings.Repeat("[", 1000), ReasonTooDeep},
		{"broken early, deep later", `{"a":,` + deep, ReasonTooDeep},
		{"stray closers do not count", strings.Repeat("]", 100) + "[1]", ReasonInvalidJSON},
		{"brackets in strings do not count", `{"a":"` + deep + `"}`, ""},
		{"invalid UTF-8 first", "[\"\xff\"" + deep, ReasonInvalidUTF8},
		{"NaN", `{"a":NaN}`, ReasonInvalidJSON},
		{"unknown escape", `{"a":"\q"}`, ReasonInvalidJSON},
		{"control character", "{\"a\":\"x\ty\"}", ReasonInvalidJSON},
		{"leading zero", `{"a":01}`, ReasonInvalidJSON},
		{"two values", `{"a":1}{"b":2}`, ReasonInvalidJSON},
		{"empty", ``, ReasonInvalidJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := CheckJSON([]byte(tc.rec), 64); err != nil {
				got = err.(*RecordError).Reason
			}
			if got != tc.want {
				t.Errorf("CheckJSON = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCheckJSONAllocs: the check runs on every JSON record; it must not allocate.
func TestCheckJSONAllocs(t *testing.T) {
	line := []byte(`{"Provider": "Microsoft-Windows-Sysmon", "EventID": "7", "EventData": {"RuleName": null, "a": [1, 2, {"b": "c"}]}}`)
	if n := testing.AllocsPerRun(100, func() { _ = CheckJSON(line, 64) }); n != 0 {
		t.Errorf("CheckJSON allocates %v times per record", n)
	}
}

// FuzzCheckJSON holds CheckJSON to its definition: invalid_utf8, else
// too_deep when JSONDepth exceeds the limit, else invalid_json unless
// json.Valid.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range validSeeds {
		f.Add([]byte(s), 3)
	}
	f.Add([]byte(`{"a":[[[1]]],`), 2)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max < 1 || max > 100 {
			t.Skip()
		}
		want := ""
		switch {
		case !utf8.Valid(b):
			want = ReasonInvalidUTF8
		case JSONDepth(b) > max:
			want = ReasonTooDeep
		case !json.Valid(b):
			want = ReasonInvalidJSON
		}
		got := ""
		if err := CheckJSON(b, max); err != nil {
			got = err.(*RecordError).Reason
		}
		if got != want {
			t.Errorf("CheckJSON(%q, %d) = %q, want %q", b, max, got, want)
		}
	})
}
