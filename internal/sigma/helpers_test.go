package sigma

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/rampart-ids/rampart/internal/event"
)

// writeRule writes a rule file into a temp dir and returns its path.
func writeRule(t testing.TB, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rule.yml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// mkEvent builds an event of module "test" from key/value pairs.
func mkEvent(kv ...any) *event.Event {
	ev := event.New()
	ev.ID = "ev1"
	ev.Set("event.module", "test")
	for i := 0; i+1 < len(kv); i += 2 {
		ev.Set(kv[i].(string), kv[i+1])
	}
	return ev
}

// matchIDs returns the sorted ids of the rules in rs matching ev.
func matchIDs(rs *ruleSet, ev *event.Event) []string {
	var out []string
	rs.run(ev, func(c *evalCtx, r *crule) { out = append(out, r.meta.ID) })
	sort.Strings(out)
	return out
}

// testRule wraps a detection body into a rule for product "test".
func testRule(detection string) string {
	return "title: t\nid: r1\nlogsource:\n  product: test\ndetection:\n" + detection
}
