package audit_test

import (
	"testing"

	"github.com/rampart-ids/rampart/internal/audit"
)

func TestClip(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 3, "abc"},
		{"abc", 2, "ab"},
		{"abc", 0, ""},
		{"aé", 2, "a"},         // é is 2 bytes: never half a character
		{"aé", 3, "aé"},        // fits exactly
		{"€x", 2, ""},          // € is 3 bytes
		{"a\xffb", 2, "a\xff"}, // invalid bytes count as characters of their own
	} {
		if got := audit.Clip(c.s, c.n); got != c.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}
