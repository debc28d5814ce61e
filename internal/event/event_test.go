package event

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// TestDeriveID: the id is the hex of the first 16 bytes of
// SHA-256(source NUL position NUL raw), with or without a scratch buffer,
// also past the size of buffer that is kept.
func TestDeriveID(t *testing.T) {
	var scratch []byte
	for _, raw := range []string{"", "line one", strings.Repeat("x", 70<<10), "after the long one"} {
		sum := sha256.Sum256([]byte("file:/var/log/auth.log\x00" + "1234\x00" + raw))
		want := hex.EncodeToString(sum[:16])
		if got := DeriveID("file:/var/log/auth.log", "1234", []byte(raw)); got != want {
			t.Errorf("DeriveID(%.20q) = %s, want %s", raw, got, want)
		}
		if got := DeriveIDInto(&scratch, "file:/var/log/auth.log", []byte("1234"), []byte(raw)); got != want {
			t.Errorf("DeriveIDInto(%.20q) = %s, want %s", raw, got, want)
		}
	}
	if cap(scratch) > 64<<10 {
		t.Errorf("a %d-byte scratch buffer was kept", cap(scratch))
	}
}
