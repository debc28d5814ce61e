package modelreg

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/ml/robust"
)

// TestPrune: old versions go with their signatures; the active version,
// the versions rollback can return to and recent versions stay; the
// registry still loads and rolls back afterwards.
func TestPrune(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "models")
	reg, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	save := func(name, v string, created time.Time) {
		t.Helper()
		a, err := model.New(model.Body{Kind: "test", Name: name, Version: v, Created: created,
			Lineage: model.Lineage{ClassCounts: map[string]int{"normal": 1}, ContentHash: "sha256:00"}}, []int{1})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := reg.Save(a, false); err != nil {
			t.Fatal(err)
		}
	}
	// m: 1..6, 1 active first, promoted 1→3 and 3→5: rollback needs 3 (and then 1).
	for i, v := range []string{"1", "2", "3", "4", "5", "6"} {
		save("m", v, t0.Add(time.Duration(i)*day))
	}
	for _, d := range []robust.Decision{
		{Action: robust.ActionPromote, Name: "m", From: "1", To: "3", Time: t0},
		{Action: robust.ActionPromote, Name: "m", From: "3", To: "5", Time: t0},
	} {
		if err := robust.AppendDecision(filepath.Join(dir, PromotionsFile), d); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.Activate("m", "5"); err != nil {
		t.Fatal(err)
	}
	// n: 1..3, 3 activated directly: 2 is its previous active.
	for i, v := range []string{"1", "2", "3"} {
		save("n", v, t0.Add(time.Duration(i)*day))
	}
	if err := reg.Activate("n", "3"); err != nil {
		t.Fatal(err)
	}

	got, err := reg.Prune(t0.Add(4*day + time.Hour)) // m@6 is newer; m@4 is the one below the active m@5
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, p.Name+"@"+p.Version)
	}
	if want := []string{"m@2", "n@1"}; !slices.Equal(names, want) {
		t.Fatalf("pruned %v, want %v", names, want)
	}
	for _, gone := range []string{"m/2.model", "m/2.model.sig", "n/1.model", "n/1.model.sig"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", gone, err)
		}
	}
	es, err := reg.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Error != "" {
			t.Errorf("%s@%s no longer verifies: %s", e.Name, e.Version, e.Error)
		}
	}
	if len(es) != 7 {
		t.Errorf("%d versions left, want 7", len(es))
	}
	if again, err := reg.Prune(t0.Add(4*day + time.Hour)); err != nil || len(again) != 0 {
		t.Errorf("second prune: %v, %v; want nothing", again, err)
	}
	for _, want := range []string{"3", "1"} {
		d, err := reg.Rollback("m", t0, "test")
		if err != nil || d.To != want {
			t.Fatalf("rollback after prune: %+v, %v; want to %s", d, err, want)
		}
	}
}
