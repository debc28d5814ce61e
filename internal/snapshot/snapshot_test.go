package snapshot

import (
	"bytes"
	"errors"
	"testing"
)

type payload struct {
	Name   string
	Counts map[string]int
}

// TestRoundTripAndRefusals: what Write wrote reads back; another kind or
// version, a payload over the limit, a truncation or any flipped byte is
// refused with ErrInvalid and leaves the target unset.
func TestRoundTripAndRefusals(t *testing.T) {
	in := payload{Name: "buckets", Counts: map[string]int{"10.0.0.1": 7, "10.0.0.2": 3}}
	var b bytes.Buffer
	if err := Write(&b, "test", 2, &in); err != nil {
		t.Fatal(err)
	}
	var out payload
	if err := Read(bytes.NewReader(b.Bytes()), "test", 2, 1<<20, &out); err != nil {
		t.Fatal(err)
	}
	if out.Name != in.Name || len(out.Counts) != 2 || out.Counts["10.0.0.1"] != 7 {
		t.Fatalf("read back %+v, wrote %+v", out, in)
	}
	refuse := func(name string, data []byte, kind string, version uint32, max int64) {
		t.Helper()
		var p payload
		if err := Read(bytes.NewReader(data), kind, version, max, &p); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
		if p.Name != "" {
			t.Errorf("%s: target filled: %+v", name, p)
		}
	}
	refuse("other kind", b.Bytes(), "other", 2, 1<<20)
	refuse("other version", b.Bytes(), "test", 3, 1<<20)
	refuse("over the limit", b.Bytes(), "test", 2, 8)
	refuse("truncated", b.Bytes()[:b.Len()-1], "test", 2, 1<<20)
	for i := range b.Len() {
		bad := bytes.Clone(b.Bytes())
		bad[i] ^= 1
		refuse("flipped byte", bad, "test", 2, 1<<20)
	}
}
