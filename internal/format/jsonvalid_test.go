package format

import (
	"encoding/json"
	"strings"
	"testing"
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
