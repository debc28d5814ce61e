package syslog

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

type frame struct {
	Data     string
	Oversize bool
	Empty    bool
}

func readFrames(r io.Reader, max int) ([]frame, error) {
	fr := NewFrameReader(r, max)
	var out []frame
	for {
		f, err := fr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, frame{string(f.Data), f.Oversize, f.Empty})
	}
}

func TestFrameReader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		max     int
		want    []frame
		wantErr error
	}{
		{"octet", "5 hello3 abc", 100, []frame{{Data: "hello"}, {Data: "abc"}}, nil},
		{"octet with embedded newline", "6 a\nb\nc\n4 next", 100, []frame{{"a\nb\nc", false, false}, {"next", false, false}}, nil},
		{"octet newline between frames", "2 ab\n2 cd\r\n", 100, []frame{{"ab", false, false}, {"cd", false, false}}, nil},
		{"octet oversize skipped exactly", "10 01234567892 ok", 4, []frame{{"0123", true, false}, {"ok", false, false}}, nil},
		{"octet empty frames are messages", "0 3 abc2 \x00\n", 100, []frame{{Empty: true}, {"abc", false, false}, {"\x00\n", false, true}}, nil},
		{"newline: blank lines are framing, NUL lines are messages", "\r\n\n\x00\x00\r\n<13>a\n", 100, []frame{{"\x00\x00", false, true}, {"<13>a", false, false}}, nil},
		{"octet truncated body", "10 abc", 100, nil, io.ErrUnexpectedEOF},
		{"octet truncated length", "5 hello12", 100, []frame{{"hello", false, false}}, io.ErrUnexpectedEOF},
		{"octet bad length byte", "5 hello x", 100, []frame{{"hello", false, false}}, ErrFraming},
		{"octet length too long", "1234567890 x", 100, nil, ErrFraming},
		{"newline", "<13>a\n<13>b\r\n\n<13>c", 100, []frame{{"<13>a", false, false}, {"<13>b", false, false}, {"<13>c", false, false}}, nil},
		{"newline oversize", "<13>abcdefgh\nok\n", 5, []frame{{"<13>a", true, false}, {"ok", false, false}}, nil},
		{"newline nul trailer", "<13>a\x00\n", 100, []frame{{"<13>a", false, false}}, nil},
		{"empty", "", 100, nil, nil},
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
				got, err := readFrames(r, tc.max)
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got error %v, want %v", err, tc.wantErr)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("frames (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// FuzzOctetFraming checks that any byte stream yields bounded frames or a
// clean error, and that well-formed octet frames round-trip.
func FuzzOctetFraming(f *testing.F) {
	f.Add([]byte("5 hello3 abc"), []byte("msg"), 8)
	f.Add([]byte("<13>a\nb\n"), []byte("x\ny"), 2)
	f.Add([]byte("999999999 x"), []byte(""), 16)
	f.Fuzz(func(t *testing.T, stream, msg []byte, max int) {
		if max < 1 || max > 1<<16 || len(stream) > 1<<16 {
			t.Skip()
		}
		frames, _ := readFrames(bytes.NewReader(stream), max)
		for _, fr := range frames {
			if len(fr.Data) > max {
				t.Fatalf("frame of %d bytes over max %d", len(fr.Data), max)
			}
		}
		// Round trip: an octet-counted message comes back as sent (minus trailers).
		msg = bytes.TrimRight(msg, "\r\n\x00")
		if len(msg) == 0 || len(msg) > max {
			return
		}
		var b bytes.Buffer
		for range 2 {
			b.WriteString(strconv.Itoa(len(msg)) + " ")
			b.Write(msg)
		}
		got, err := readFrames(&b, max)
		if err != nil {
			t.Fatalf("round trip error: %v", err)
		}
		want := []frame{{Data: string(msg)}, {Data: string(msg)}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
	})
}
