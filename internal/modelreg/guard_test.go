package modelreg

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/ml/guard"
	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// recordMode reports a guard fitted with guard.RecordConfig: rank curves
// (the rank-space distance) and null samples (the combined test).
func recordMode(g *guard.Guard) bool { return len(g.Knots) > 0 && len(g.Null) > 0 }

// TestKDDGuardRecordMode: a newly trained connection-record model carries
// a record-mode guard (what the adversarial eval measures), the payload
// model a default one.
func TestKDDGuardRecordMode(t *testing.T) {
	root := testutil.SharedData(t, ".")
	tmp := t.TempDir()
	sliceFile(t, filepath.Join(root, "nsl-kdd", "KDDTrain+_20Percent.txt"), filepath.Join(tmp, "kdd", "KDDTrain+_20Percent.txt"), 3000)
	sliceFile(t, filepath.Join(root, "http-params", "payload_train.csv"), filepath.Join(tmp, "http", "payload_train.csv"), 20000)
	created := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		kind, dir string
		record    bool
	}{{KindNSLKDD, "kdd", true}, {KindPayload, "http", false}} {
		a, err := Train(context.Background(), tc.kind, TrainOptions{Data: filepath.Join(tmp, tc.dir), Seed: 7, Created: created})
		if err != nil {
			t.Fatalf("%s: %v", tc.kind, err)
		}
		g, err := guard.FromArtifact(a)
		if err != nil {
			t.Fatalf("%s: %v", tc.kind, err)
		}
		if recordMode(g) != tc.record {
			t.Fatalf("%s: guard in record mode %v, want %v (%d rank curves, %d null samples)", tc.kind, recordMode(g), tc.record, len(g.Knots), len(g.Null))
		}
		if r := a.Body.Metrics["input_guard_flag_rate"]; !(r > 0 && r < 0.05) {
			t.Fatalf("%s: held-out flag rate %v, want in (0, 0.05)", tc.kind, r)
		}
	}
}

// TestGuardArtifactsFromBefore: guards written by the code of commit
// 477fead (before the k-d tree search and record-mode training), one in
// each configuration, load from an artifact and check every stored input
// exactly as they did then (the whole Check, distances to the bit).
// The file was written at 477fead: guards (5 trees, seed 7) fitted on the
// first 240 rows of KDDTrain+_20Percent.txt as dataset.FitKDD featurizes
// them; the inputs are rows 240–319 and 40 of them with one feature
// shifted out of range or two features swapped; Checks as json.Marshal
// wrote them.
func TestGuardArtifactsFromBefore(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "guard-artifacts-477fead.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Queries [][]float64 `json:"queries"`
		Guards  []struct {
			Config string            `json:"config"`
			Guard  json.RawMessage   `json:"guard"`
			Checks []json.RawMessage `json:"checks"`
		} `json:"guards"`
	}
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden.Guards) != 2 || len(golden.Queries) == 0 {
		t.Fatalf("golden file holds %d guards and %d queries", len(golden.Guards), len(golden.Queries))
	}
	for _, gg := range golden.Guards {
		a, err := model.New(model.Body{Kind: KindNSLKDD, Name: "golden", Version: gg.Config, InputGuard: gg.Guard,
			Lineage: model.Lineage{ClassCounts: map[string]int{"normal": 1}, ContentHash: "sha256:00"}}, []int{1})
		if err != nil {
			t.Fatal(err)
		}
		enc, err := a.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if a, err = model.Decode(enc); err != nil {
			t.Fatal(err)
		}
		g, err := guard.FromArtifact(a)
		if err != nil {
			t.Fatalf("%s guard: %v", gg.Config, err)
		}
		if recordMode(g) != (gg.Config == "record") {
			t.Fatalf("%s guard loaded in record mode %v", gg.Config, recordMode(g))
		}
		flagged := 0
		for i, q := range golden.Queries {
			c, err := g.Check(q)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, gg.Checks[i]) {
				t.Fatalf("%s guard, input %d:\n got %s\nwant %s", gg.Config, i, got, gg.Checks[i])
			}
			if c.Flagged {
				flagged++
			}
		}
		if flagged == 0 {
			t.Fatalf("%s guard flags none of the stored inputs: the comparison covers no flag", gg.Config)
		}
	}
}
