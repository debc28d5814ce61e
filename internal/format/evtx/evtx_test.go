package evtx

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/format"
)

// readAll returns every record as JSON text and every quarantined piece as
// "ERR:<reason>", in order.
func readAll(t testing.TB, data []byte) []string {
	t.Helper()
	r, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	var out []string
	for i := 0; ; i++ {
		if i > 100000 {
			t.Fatal("reader does not end")
		}
		b, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		var re *format.RecordError
		if errors.As(err, &re) {
			out = append(out, "ERR:"+re.Reason)
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if !json.Valid(b) {
			t.Fatalf("record is not valid JSON: %s", b)
		}
		out = append(out, string(b))
	}
}

func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.evtx")
	if len(files) == 0 {
		t.Fatal("no testdata/*.evtx")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(readAll(t, data), "\n") + "\n"
			golden := filepath.Join("testdata", "golden", strings.TrimSuffix(filepath.Base(f), ".evtx")+".jsonl")
			if os.Getenv("UPDATE_GOLDEN") != "" {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading golden (UPDATE_GOLDEN=1 writes it): %v", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("records differ from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// TestGoldenContent pins a few facts of the samples independently of the
// golden files, so that rewriting them cannot hide a regression.
func TestGoldenContent(t *testing.T) {
	tests := []struct {
		file string
		n    int
		want []string // substrings of the first record
	}{
		{"sigma_wmi_userdata.evtx", 1, []string{`"Provider": "Microsoft-Windows-WMI-Activity"`, `"UserData": {"Operation_ClientFailure": {`, `"Channel": "Microsoft-Windows-WMI-Activity/Operational"`}},
		{"sigma_sysmon_7records.evtx", 7, []string{`"Provider": "Microsoft-Windows-Sysmon"`, `"EventID": "11"`, `"EventData": {"RuleName": `}},
		{"velocidex_security_1_record.evtx", 1, []string{`"Channel": "Security"`, `"EventRecordID": "`}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			recs := readAll(t, data)
			if len(recs) != tc.n {
				t.Fatalf("got %d records, want %d", len(recs), tc.n)
			}
			for _, w := range tc.want {
				if !strings.Contains(recs[0], w) {
					t.Errorf("record lacks %s:\n%s", w, recs[0])
				}
			}
		})
	}
}

func TestCrafted(t *testing.T) {
	u16 := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	ok1 := `{"Provider": "Test-Provider", "EventID": "4688", "EventRecordID": "1", "Channel": "Security", "Computer": "host1", "UserID": "", "EventData": {"Value": "cmd.exe /c whoami"}}`
	tests := []struct {
		name string
		file func() []byte
		want []string
	}{
		{
			name: "templated event",
			file: func() []byte { return buildFile(buildChunk(1, simpleEvent(4688, "cmd.exe /c whoami"))) },
			want: []string{ok1},
		},
		{
			name: "optional null substitution keeps the element, drops the attribute",
			file: func() []byte {
				return buildFile(buildChunk(7, func(w *bx) {
					w.fragment().template(func(w *bx) {
						w.open("Event", false).closeStart()
						w.open("System", false).closeStart()
						w.open("Correlation", true).attrList().attr("ActivityID", false).sub(0, vtGUID, true).closeEmpty()
						w.open("Security", true).attrList().attr("UserID", false).sub(1, vtSID, true).closeEmpty()
						w.end()
						w.open("EventData", false).closeStart()
						w.open("Data", true).attrList().attr("Name", false).text("Empty").closeStart().sub(0, vtGUID, true).end()
						w.open("Data", false).closeStart().text("unnamed").end()
						w.open("Binary", false).closeStart().sub(2, vtBinary, false).end()
						w.end()
						w.end()
					}, tv{vtNull, nil}, tv{vtSID, []byte{1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}}, tv{vtBinary, []byte("AB")})
				}))
			},
			want: []string{`{"EventRecordID": "7", "UserID": "S-1-5-18", "EventData": {"Empty": null, "_data": ["unnamed", "QUI="]}}`},
		},
		{
			name: "repeated Data names keep first position and last value",
			file: func() []byte {
				return buildFile(buildChunk(1, func(w *bx) {
					w.fragment().open("Event", false).closeStart().open("EventData", false).closeStart()
					for _, kv := range [][2]string{{"A", "1"}, {"B", "2"}, {"A", "3"}, {"", "u"}, {"C", "4"}, {"A", "5"}} {
						if kv[0] == "" {
							w.open("Data", false).closeStart().text(kv[1]).end()
							continue
						}
						w.open("Data", true).attrList().attr("Name", false).text(kv[0]).closeStart().text(kv[1]).end()
					}
					w.end().end().u8(tokEOF)
				}))
			},
			want: []string{`{"EventRecordID": "1", "TimeCreated": "2019-04-17 18:40:00", "EventData": {"A": "5", "B": "2", "C": "4", "_data": ["u"]}}`},
		},
		{
			name: "value types",
			file: func() []byte {
				vals := []tv{
					{vtInt8, []byte{0xff}},
					{vtUint64, binary.LittleEndian.AppendUint64(nil, math.MaxUint64)},
					{vtReal64, binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.1))},
					{vtBool, []byte{1, 0, 0, 0}},
					{vtGUID, []byte{0x27, 0x07, 0xfd, 0x93, 0x2b, 0x51, 0x07, 0x00, 0xf9, 0xd9, 0x02, 0x94, 0x2b, 0x51, 0xd7, 0x01}},
					{vtHex32, []byte{0x5f, 0xc6, 0xf4, 0x01}},
					{vtFiletm, binary.LittleEndian.AppendUint64(nil, 132791983529659230)},
					{vtSystm, append(append(append(append(append(append(append(u16(2019), u16(4)...), u16(6)...), u16(27)...), u16(21)...), u16(6)...), u16(49)...), u16(341)...)},
					{vtString | vtArray, append(append(utf16le("a"), 0, 0, 0, 0), utf16le("b")...)},
					{vtAnsi, []byte("ansi\x00")},
					{vtSizeT, binary.LittleEndian.AppendUint64(nil, 4096)},
				}
				names := []string{"i8", "u64", "r64", "bool", "guid", "hex32", "ft", "st", "arr", "ansi", "size"}
				return buildFile(buildChunk(1, func(w *bx) {
					w.fragment().template(func(w *bx) {
						w.open("Event", false).closeStart().open("EventData", false).closeStart()
						for i, n := range names {
							w.open("Data", true).attrList().attr("Name", false).text(n).closeStart().sub(uint16(i), vals[i].t, false).end()
						}
						w.end().end()
					}, vals...)
				}))
			},
			want: []string{`{"EventRecordID": "1", "TimeCreated": "2019-04-17 18:40:00", "EventData": {"i8": "-1", "u64": "18446744073709551615", "r64": "0.1", "bool": "True", "guid": "{93fd0727-512b-0007-f9d9-02942b51d701}", "hex32": "0x01f4c65f", "ft": "2021-10-20 10:12:32.965923", "st": "2019-04-27 21:06:49.341000", "arr": "<string>a</string>\n<string></string>\n<string>b</string>\n", "ansi": "ansi", "size": "4096"}}`},
		},
		{
			name: "nested BinXML substitution without dependency ids",
			file: func() []byte {
				return buildFile(buildChunk(1, func(w *bx) {
					w.fragment()
					// The nested value's offsets depend on where it lands; write
					// the template first, then the value in place.
					w.u8(tokTemplate).u8(1).u32(0).u32(uint32(w.pos() + 4))
					w.u32(0).raw(make([]byte, 16)...)
					sizeAt := len(w.b)
					w.u32(0)
					start := len(w.b)
					w.fragment()
					w.open("Event", false).closeStart().open("UserData", false).closeStart().sub(0, vtBinXML, false).end().end()
					w.u8(tokEOF)
					binary.LittleEndian.PutUint32(w.b[sizeAt:], uint32(len(w.b)-start))
					w.u32(1)
					descAt := len(w.b)
					w.u32(0)
					vstart := len(w.b)
					// elements in a value carry no dependency identifier
					w.u8(tokOpenStart).u32(0).name("LogFileCleared").closeStart()
					w.u8(tokOpenStart).u32(0).name("SubjectUserName").closeStart().text("admin").end()
					w.u8(tokOpenStart).u32(0).name("Flags").closeStart().text("1").u8(tokCharRef).u16('&').u8(tokEntityRef).name("lt").end()
					w.end().u8(tokEOF)
					binary.LittleEndian.PutUint16(w.b[descAt:], uint16(len(w.b)-vstart))
					w.b[descAt+2] = vtBinXML
				}))
			},
			want: []string{`{"EventRecordID": "1", "TimeCreated": "2019-04-17 18:40:00", "UserData": {"LogFileCleared": {"SubjectUserName": "admin", "Flags": "1&<"}}}`},
		},
		{
			name: "bad chunk header crc is quarantined, next chunk still read",
			file: func() []byte {
				c1 := buildChunk(1, simpleEvent(1, "x"))
				c1[100] ^= 0xff
				return buildFile(c1, buildChunk(2, simpleEvent(4688, "cmd.exe /c whoami")))
			},
			want: []string{"ERR:bad_chunk_crc", strings.Replace(ok1, `"EventRecordID": "1"`, `"EventRecordID": "2"`, 1)},
		},
		{
			name: "bad record size, next record still read",
			file: func() []byte {
				c := buildChunk(1, simpleEvent(1, "x"), simpleEvent(4688, "cmd.exe /c whoami"))
				binary.LittleEndian.PutUint32(c[chunkHeaderSize+4:], 999)
				return buildFile(c)
			},
			want: []string{"ERR:bad_record", strings.Replace(ok1, `"EventRecordID": "1"`, `"EventRecordID": "2"`, 1)},
		},
		{
			name: "amplification is bounded",
			file: func() []byte {
				big := utf16le(strings.Repeat("A", 20000))
				return buildFile(buildChunk(1, func(w *bx) {
					w.fragment().template(func(w *bx) {
						w.open("Event", false).closeStart().open("EventData", false).closeStart()
						w.open("Data", false).closeStart()
						for range 1000 {
							w.sub(0, vtString, false) // 20 MB of text from 40 KB
						}
						w.end().end().end()
					}, tv{vtString, big})
				}, simpleEvent(4688, "cmd.exe /c whoami")))
			},
			want: []string{"ERR:too_large", strings.Replace(ok1, `"EventRecordID": "1"`, `"EventRecordID": "2"`, 1)},
		},
		{
			name: "element depth is bounded",
			file: func() []byte {
				return buildFile(buildChunk(1, func(w *bx) {
					w.fragment()
					for range 200 {
						w.open("E", false).closeStart()
					}
					for range 200 {
						w.end()
					}
				}))
			},
			want: []string{"ERR:too_deep"},
		},
		{
			name: "substitution count beyond the record",
			file: func() []byte {
				return buildFile(buildChunk(1, func(w *bx) {
					w.fragment().template(func(w *bx) { w.open("Event", false).closeEmpty() })
					binary.LittleEndian.PutUint32(w.b[len(w.b)-4:], 0xffffffff)
				}))
			},
			want: []string{"ERR:bad_binxml"},
		},
		{
			name: "no Event element",
			file: func() []byte {
				return buildFile(buildChunk(1, func(w *bx) { w.fragment().open("Other", false).closeEmpty().u8(tokEOF) }))
			},
			want: []string{"ERR:bad_binxml"},
		},
		{
			name: "truncated chunk",
			file: func() []byte { return buildFile(buildChunk(1, simpleEvent(1, "x")))[:fileHeaderSize+300] },
			want: []string{"ERR:truncated_chunk"},
		},
		{
			name: "partial last chunk: cut reported, records before it read",
			file: func() []byte {
				f := buildFile(buildChunk(1, simpleEvent(4688, "cmd.exe /c whoami"), simpleEvent(2, "y")))
				// cut inside the second record
				return f[:fileHeaderSize+chunkHeaderSize+len(buildChunkRecordLen(simpleEvent(4688, "cmd.exe /c whoami")))+40]
			},
			want: []string{"ERR:truncated_chunk", ok1, "ERR:bad_record"}, // the cut record itself is quarantined
		},
		{
			name: "empty chunks are skipped",
			file: func() []byte {
				return buildFile(make([]byte, chunkSize), buildChunk(1, simpleEvent(4688, "cmd.exe /c whoami")))
			},
			want: []string{ok1},
		},
		{
			name: "bad file header crc is reported once",
			file: func() []byte {
				f := buildFile(buildChunk(1, simpleEvent(4688, "cmd.exe /c whoami")))
				f[50] = 1
				return f
			},
			want: []string{"ERR:bad_file_header_crc", ok1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := readAll(t, tc.file())
			for i := range got {
				// The crafted records share one written time; drop it unless asked.
				if !strings.Contains(tc.want[min(i, len(tc.want)-1)], "TimeCreated") {
					got[i] = strings.Replace(got[i], `"TimeCreated": "2019-04-17 18:40:00", `, "", 1)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"empty", nil, "not an evtx file"},
		{"short", []byte("ElfFile\x00"), "not an evtx file"},
		{"wrong magic", append([]byte("NotAFile"), make([]byte, 4096)...), "not an evtx file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(bytes.NewReader(tc.data), int64(len(tc.data)))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestStreamRegistration(t *testing.T) {
	var sf *format.StreamFormat
	for _, s := range format.Streams() {
		if s.Name == "evtx" {
			sf = &s
		}
	}
	if sf == nil {
		t.Fatal("evtx stream format not registered")
	}
	if string(sf.Magic) != "ElfFile\x00" || sf.RecordFormat != "windows" {
		t.Fatalf("registration = %q %q", sf.Magic, sf.RecordFormat)
	}
	data := buildFile(buildChunk(1, simpleEvent(4688, "cmd.exe /c whoami")))
	// A plain io.Reader (no ReaderAt) is buffered.
	rr, err := sf.Open(io.MultiReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := rr.Next()
	if err != nil || !bytes.Contains(b, []byte(`"EventID": "4688"`)) {
		t.Fatalf("Next = %s, %v", b, err)
	}
	if _, err := rr.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("second Next = %v, want EOF", err)
	}
	// A file is read in place.
	p := filepath.Join(t.TempDir(), "x.evtx")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rr, err = sf.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := rr.Next(); err != nil || !bytes.Contains(b, []byte(`"EventID": "4688"`)) {
		t.Fatalf("Next = %s, %v", b, err)
	}
}

func TestPyFloat(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0.0"}, {1, "1.0"}, {0.1, "0.1"}, {-2.5, "-2.5"}, {1e16, "1e+16"}, {1.5e-5, "1.5e-05"},
		{123456789012345.0, "123456789012345.0"}, {float64(float32(0.1)), "0.10000000149011612"}, {0.0001, "0.0001"},
	}
	for _, tc := range tests {
		if got := string(appendPyFloat(nil, tc.in)); got != tc.want {
			t.Errorf("appendPyFloat(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestMutatedSecurityLog repeats, in process, the experiment that drove
// the Velocidex reader to a fatal out-of-memory (DEPENDENCIES.md): flip 20
// random bytes of Velocidex's Security.evtx, 150 times. Every mutation must
// be read to the end quickly and with bounded allocation.
func TestMutatedSecurityLog(t *testing.T) {
	if testing.Short() {
		t.Skip("150 mutations of a 1 MB log")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "www.velocidex.com/golang/evtx").Output()
	if err != nil {
		t.Skipf("velocidex module not available: %v", err)
	}
	orig, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "testdata", "Security.evtx"))
	if err != nil {
		t.Skipf("Security.evtx not available: %v", err)
	}
	if n := len(readAll(t, orig)); n != 739 {
		t.Fatalf("unmutated Security.evtx: %d records, want 739", n)
	}
	rng := rand.New(rand.NewPCG(6, 6))
	var maxD time.Duration
	var maxAlloc uint64
	defer func() { t.Logf("slowest mutation %v, most allocated %d MB", maxD, maxAlloc>>20) }()
	for i := range 150 {
		data := bytes.Clone(orig)
		for range 20 {
			data[rng.IntN(len(data))] = byte(rng.IntN(256))
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		recs := readAll(t, data)
		d := time.Since(start)
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		maxD, maxAlloc = max(maxD, d), max(maxAlloc, alloc)
		if alloc > 256<<20 || d > 5*time.Second {
			t.Errorf("mutation %d: %d records in %v, %d MB allocated", i, len(recs), d, alloc>>20)
		}
	}
}

func TestAppendJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"q\"b\\s\n\r\t\x01", `"q\"b\\s\n\r\t\u0001"`},
		{"ünï €", `"ünï €"`},
		{"bad\xffutf8", "\"bad\ufffdutf8\""},
		{"", `""`},
	}
	for _, tc := range tests {
		if got := string(appendJSON(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("appendJSON(%q) = %s, want %s", tc.in, got, tc.want)
		}
		if got := string(appendJSON(nil, tc.in)); got != tc.want {
			t.Errorf("appendJSON(string %q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestDecodeUTF16(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{utf16le("Event"), "Event"},
		{utf16le("C:\\Windows\\System32\\cmd.exe /c whoami"), "C:\\Windows\\System32\\cmd.exe /c whoami"},
		{utf16le("abcdefgh└─>ijklmnop"), "abcdefgh└─>ijklmnop"},
		{utf16le("emoji 😀 end"), "emoji 😀 end"},
		{[]byte{0x3d, 0xd8, 'a', 0}, "\ufffda"}, // unpaired high surrogate
		{[]byte{'a', 0, 'b'}, "a"},              // odd trailing byte dropped
		{nil, ""},
	}
	for _, tc := range tests {
		if got := string(decodeUTF16(nil, tc.in)); got != tc.want {
			t.Errorf("decodeUTF16(% x) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMarkDuplicates(t *testing.T) {
	for _, n := range []int{6, 64, 65, 200} {
		names := make([]string, n)
		for i := range names {
			names[i] = "k" + string(rune('a'+i%5)) // five distinct names, repeated
		}
		names[1] = "" // unnamed
		var got [][2]int
		markDuplicates(n, func(i int) ([]byte, bool) { return []byte(names[i]), names[i] != "" },
			func(first, dup int) { got = append(got, [2]int{first, dup}) })
		var want [][2]int
		for i := range names {
			for j := range i {
				if names[i] != "" && names[j] == names[i] {
					want = append(want, [2]int{j, i})
					break
				}
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("n=%d (-want +got):\n%s", n, diff)
		}
	}
}

// buildChunkRecordLen returns the bytes of one record as buildChunk lays it out.
func buildChunkRecordLen(rec func(*bx)) []byte {
	c := buildChunk(1, rec)
	size := binary.LittleEndian.Uint32(c[chunkHeaderSize+4:])
	return c[chunkHeaderSize : chunkHeaderSize+int(size)]
}
