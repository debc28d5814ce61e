package api

import (
	"strings"
	"testing"
)

// TestReadSuppressions: both layouts read back; invalid entries are
// refused with their index.
func TestReadSuppressions(t *testing.T) {
	entry := `{"id": "s1", "rule_id": "r1", "entities": ["user:alice", "source.ip:10.0.0.0/8"], "reason": "noise",
		"created_by": "ann", "created_at": "2026-11-27T09:00:00Z", "expires_at": "2026-11-28T09:00:00Z"}`
	for _, body := range []string{`{"suppressions": [` + entry + `]}`, `[` + entry + `]`} {
		ss, err := ReadSuppressions(strings.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if len(ss) != 1 || ss[0].ID != "s1" || ss[0].RuleID != "r1" || len(ss[0].Entities) != 2 ||
			ss[0].Entities[1].Kind != "source.ip" || ss[0].Entities[1].Value != "10.0.0.0/8" {
			t.Errorf("read %+v", ss)
		}
	}
	for _, tc := range []struct{ body, want string }{
		{`{"suppressions": [{"id": "s1", "entities": [], "reason": "r", "created_at": "2026-11-27T09:00:00Z", "expires_at": "2026-11-28T09:00:00Z"}]}`, "suppressions[0]"},
		{`[` + entry + `, ` + strings.Replace(entry, `"noise"`, `""`, 1) + `]`, "suppressions[1]"},
		{`[` + strings.Replace(entry, `"2026-11-28T09:00:00Z"`, `"2026-11-26T09:00:00Z"`, 1) + `]`, "expiry"},
		{`{"items": []}`, "GET /api/v1/suppressions"},
		{`not json`, "GET /api/v1/suppressions"},
	} {
		if _, err := ReadSuppressions(strings.NewReader(tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.60s…: err = %v, want one containing %q", tc.body, err, tc.want)
		}
	}
}
