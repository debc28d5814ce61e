package ingest

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

type gotLine struct {
	Data        string
	Offset, End int64
	Oversize    bool
	Flushed     bool
}

func readAll(t testing.TB, r io.Reader, max int) ([]gotLine, error) {
	t.Helper()
	lr := NewLineReader(r, 0, max)
	var out []gotLine
	for {
		ln, err := lr.Next()
		if errors.Is(err, io.EOF) {
			if ln, ok := lr.Flush(); ok {
				out = append(out, gotLine{string(ln.Data), ln.Offset, ln.End, ln.Oversize, true})
			}
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, gotLine{string(ln.Data), ln.Offset, ln.End, ln.Oversize, false})
	}
}

func TestLineReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []gotLine
	}{
		{"empty", "", 10, nil},
		{"one", "abc\n", 10, []gotLine{{"abc", 0, 4, false, false}}},
		{"crlf", "a\r\nbc\r\n", 10, []gotLine{{"a", 0, 3, false, false}, {"bc", 3, 7, false, false}}},
		{"partial tail", "a\nbc", 10, []gotLine{{"a", 0, 2, false, false}, {"bc", 2, 4, false, true}}},
		{"blank lines kept", "\n\nx\n", 10, []gotLine{{"", 0, 1, false, false}, {"", 1, 2, false, false}, {"x", 2, 4, false, false}}},
		{"exact max", "abcd\nab\n", 4, []gotLine{{"abcd", 0, 5, false, false}, {"ab", 5, 8, false, false}}},
		{"exact max crlf", "abcd\r\nab\n", 4, []gotLine{{"abcd", 0, 6, false, false}, {"ab", 6, 9, false, false}}},
		{"oversize then normal", "abcdefgh\nxy\n", 4, []gotLine{{"abcd", 0, 9, true, false}, {"xy", 9, 12, false, false}}},
		{"oversize at end without newline", "ok\nabcdefgh", 4, []gotLine{{"ok", 0, 3, false, false}, {"abcd", 3, 11, true, true}}},
		{"long oversize spans buffers", "x" + strings.Repeat("y", 200000) + "\nz\n", 100,
			[]gotLine{{"x" + strings.Repeat("y", 99), 0, 200002, true, false}, {"z", 200002, 200004, false, false}}},
	}
	for _, tc := range tests {
		for _, slow := range []bool{false, true} {
			name := tc.name
			var r io.Reader = strings.NewReader(tc.in)
			if slow {
				name += "/onebyte"
				r = iotest.OneByteReader(r)
			}
			t.Run(name, func(t *testing.T) {
				got, err := readAll(t, r, tc.max)
				if err != nil {
					t.Fatalf("error: %v", err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("lines (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestLineReaderResumesAfterEOF(t *testing.T) {
	var buf bytes.Buffer
	buf.WriteString("par")
	lr := NewLineReader(&buf, 100, 64)
	if _, err := lr.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("got %v, want io.EOF", err)
	}
	if !lr.Pending() {
		t.Fatal("partial line not pending")
	}
	buf.WriteString("tial\nnext")
	ln, err := lr.Next()
	if err != nil || string(ln.Data) != "partial" || ln.Offset != 100 || ln.End != 108 {
		t.Fatalf("got %q %d-%d %v, want \"partial\" 100-108", ln.Data, ln.Offset, ln.End, err)
	}
	if got := lr.ReadOffset(); got != 112 {
		t.Errorf("ReadOffset = %d, want 112", got)
	}
}

func TestLineReaderError(t *testing.T) {
	boom := errors.New("boom")
	_, err := readAll(t, iotest.ErrReader(boom), 10)
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
}

// FuzzLineReader checks the framing invariants: lines tile the input
// exactly, data never exceeds the limit, and content matches the input.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("a\nb\r\n\nlong line here\n"), 4)
	f.Add([]byte("no newline"), 3)
	f.Add([]byte("\r\r\n\n"), 1)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max < 1 || max > 1<<16 || len(in) > 1<<20 {
			t.Skip()
		}
		got, err := readAll(t, bytes.NewReader(in), max)
		if err != nil {
			t.Fatal(err)
		}
		var pos int64
		for i, ln := range got {
			if ln.Offset != pos {
				t.Fatalf("line %d starts at %d, want %d", i, ln.Offset, pos)
			}
			if ln.End <= ln.Offset || ln.End > int64(len(in)) {
				t.Fatalf("line %d bad end %d", i, ln.End)
			}
			if len(ln.Data) > max {
				t.Fatalf("line %d: %d bytes over max %d", i, len(ln.Data), max)
			}
			if !bytes.HasPrefix(in[ln.Offset:ln.End], []byte(ln.Data)) {
				t.Fatalf("line %d data %q not at its offset", i, ln.Data)
			}
			if !ln.Oversize && !ln.Flushed {
				full := bytes.TrimSuffix(bytes.TrimSuffix(in[ln.Offset:ln.End], []byte("\n")), []byte("\r"))
				if string(full) != ln.Data {
					t.Fatalf("line %d data %q, want %q", i, ln.Data, full)
				}
			}
			pos = ln.End
		}
		if pos != int64(len(in)) {
			t.Fatalf("lines cover %d of %d bytes", pos, len(in))
		}
	})
}
