package store

import (
	"errors"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, c := range []Cursor{{0, "a"}, {-62135596800000000, "x:y:z"}, {1 << 60, "ünï"}} {
		got, err := DecodeCursor(c.Encode())
		if err != nil || got != c {
			t.Errorf("DecodeCursor(encode(%+v)) = %+v, %v", c, got, err)
		}
	}
	for _, bad := range []string{"", "!!", "MTIz", "OjEyMw", "eDph"} { // "", "!!", "123", ":123", "x:a"
		if _, err := DecodeCursor(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeCursor(%q) error = %v, want ErrInvalid", bad, err)
		}
	}
}

// FuzzCursor: a cursor comes from a client, so decoding must never panic,
// and whatever decodes must survive another encode/decode unchanged.
func FuzzCursor(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeCursor(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		again, err := DecodeCursor(c.Encode())
		if err != nil || again != c {
			t.Fatalf("re-decoding %+v gave %+v, %v", c, again, err)
		}
	})
}
