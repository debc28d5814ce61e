package sigma

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestNeqGolden: events in, matches out, for neq with value lists (the
// field must equal none of the values). want.txt lists "line rule-id".
func TestNeqGolden(t *testing.T) {
	d, err := New(Options{Paths: []string{"testdata/neq/rules.yml"}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/neq/events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		kv := []any{}
		for k, v := range m {
			if f, ok := v.(float64); ok {
				v = int64(f)
			}
			kv = append(kv, k, v)
		}
		for _, mt := range d.Matches(mkEvent(kv...)) {
			got = append(got, fmt.Sprintf("%d %s", i, mt.RuleID))
		}
	}
	want, err := os.ReadFile("testdata/neq/want.txt")
	if err != nil {
		t.Fatal(err)
	}
	if g, w := strings.Join(got, "\n"), strings.TrimSpace(string(want)); g != w {
		t.Errorf("matches:\n%s\nwant:\n%s", g, w)
	}
}

// TestDescribeFormat: describe writes what fmt's "%s %v matched %q" wrote.
func TestDescribeFormat(t *testing.T) {
	items := []matchedItem{
		{field: "CommandLine", mods: "contains", value: "cmd.exe /c \"x\"\t\u00e9", values: []string{"/c", "-c"}},
		{field: "", value: "raw", values: []string{"a", "b", "c", "d", "e"}},
	}
	want := `CommandLine|contains [/c -c] matched "cmd.exe /c \"x\"\té"; keywords [a b c … 2 more] matched "raw"`
	if got := describe(items); got != want {
		t.Errorf("describe:\n got %s\nwant %s", got, want)
	}
	ref := fmt.Sprintf("%s %v matched %q", "CommandLine|contains", []string{"/c", "-c"}, items[0].value)
	if got := describe(items[:1]); got != ref {
		t.Errorf("describe %s, fmt %s", got, ref)
	}
}
