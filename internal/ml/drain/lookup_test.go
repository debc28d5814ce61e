package drain

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLookupLearnsNothing: Lookup finds what Add would match, and the
// miner's state is the same before and after.
func TestLookupLearnsNothing(t *testing.T) {
	m, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"session opened for user alice", "session opened for user bob", "disk sda1 full"} {
		if _, err := m.Add(l); err != nil {
			t.Fatal(err)
		}
	}
	before := m.Snapshot()
	got, err := m.Lookup("session opened for user carol")
	if err != nil {
		t.Fatal(err)
	}
	if got.New || got.ClusterID != 0 || got.Count != 3 || !cmp.Equal(got.Params, []string{"carol"}) {
		t.Errorf("Lookup(known) = %+v; want cluster 0, count 3 (as Add would say), params [carol]", got)
	}
	unknown, err := m.Lookup("kernel panic at cpu 3")
	if err != nil {
		t.Fatal(err)
	}
	if !unknown.New || unknown.ClusterID != -1 || unknown.Template != "kernel panic at cpu <*>" || unknown.TemplateID == "" {
		t.Errorf("Lookup(unknown) = %+v; want a new template kernel panic at cpu <*>", unknown)
	}
	if diff := cmp.Diff(before, m.Snapshot()); diff != "" {
		t.Errorf("Lookup changed the miner (-before +after):\n%s", diff)
	}
	// Add of the same unknown line agrees on the template id.
	added, err := m.Add("kernel panic at cpu 3")
	if err != nil {
		t.Fatal(err)
	}
	if added.TemplateID != unknown.TemplateID {
		t.Errorf("Add gives template %q (%s), Lookup gave %q (%s)", added.Template, added.TemplateID, unknown.Template, unknown.TemplateID)
	}
}
