package signal

import (
	"strings"
	"testing"
)

// TestDeriveID1 holds the one-event fast path to DeriveID's ids.
func TestDeriveID1(t *testing.T) {
	long := strings.Repeat("x", 300) // past DeriveID1's stack buffer
	for _, tc := range []struct{ det, rule, ev string }{
		{"sigma", "5f1a-rule", "ev-1"},
		{"", "", ""},
		{"sigma", long, "ev\x00with-nul"},
		{"ioc", "r", long},
	} {
		if got, want := DeriveID1(tc.det, tc.rule, tc.ev), DeriveID(tc.det, tc.rule, tc.ev); got != want {
			t.Errorf("DeriveID1(%q, %q, %q) = %s, DeriveID = %s", tc.det, tc.rule, tc.ev, got, want)
		}
	}
	if DeriveID1("sigma", "a", "b") == DeriveID1("sigma", "a", "c") {
		t.Error("different events gave one id")
	}
}
