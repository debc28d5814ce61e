package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/testutil"
)

// TestModelPromoteRollback trains two nsl-kdd versions on a slice, promotes
// the second against held-out rows, refuses under a zero budget, and rolls back.
func TestModelPromoteRollback(t *testing.T) {
	shared := testutil.SharedData(t, "nsl-kdd")
	tmp := t.TempDir()
	models := filepath.Join(tmp, "models")
	headLines(t, filepath.Join(shared, "KDDTrain+_20Percent.txt"), filepath.Join(tmp, "kdd", "KDDTrain+_20Percent.txt"), 1500, 3)
	// Held-out rows: other lines of the file, named as the test file.
	data, err := os.ReadFile(filepath.Join(shared, "KDDTrain+_20Percent.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	var b strings.Builder
	for i := 2; i < len(lines) && i < 4500; i += 3 {
		b.WriteString(lines[i])
	}
	os.MkdirAll(filepath.Join(tmp, "test"), 0o755)
	if err := os.WriteFile(filepath.Join(tmp, "test", "KDDTest+.txt"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, seed := range []string{"1", "2"} {
		if out, err := runModel(t, "train", "--models", models, "--kind", "nsl-kdd", "--data", filepath.Join(tmp, "kdd"), "--seed", seed); err != nil {
			t.Fatalf("train: %v\n%s", err, out)
		}
	}
	// No allowed recall drop and no extra alerts: refused unless version 2
	// is at least as good on every count, and the refusal says why.
	out, err := runModel(t, "promote", "nsl-kdd", "--models", models, "--data", filepath.Join(tmp, "test"), "--max-recall-drop", "0", "--max-alert-growth", "0", "--json")
	var d struct {
		Action, From, To, Reason string
		Champion, Challenger     struct{ Recall float64 }
	}
	if jerr := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &d); jerr != nil {
		t.Fatalf("decision JSON: %v\n%s", jerr, out)
	}
	if (err != nil) != (d.Action == "refuse") || d.Reason == "" || d.Champion.Recall == 0 {
		t.Fatalf("strict promote: %v %+v", err, d)
	}
	// Default bounds: two seeds of the same trainer are within them.
	if d.Action == "refuse" {
		out, err = runModel(t, "promote", "nsl-kdd", "--models", models, "--data", filepath.Join(tmp, "test"))
		if err != nil || !strings.Contains(out, "promote nsl-kdd: active 1 → 2") {
			t.Fatalf("default promote: %v\n%s", err, out)
		}
	}
	out, err = runModel(t, "rollback", "nsl-kdd", "--models", models)
	if err != nil || !strings.Contains(out, "rollback nsl-kdd: active 2 → 1") {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	if _, err := runModel(t, "rollback", "nsl-kdd", "--models", models); err == nil {
		t.Error("second rollback with nothing to undo succeeded")
	}
	log, err := os.ReadFile(filepath.Join(models, "promotions.jsonl"))
	if err != nil || strings.Count(string(log), "\n") != 3 {
		t.Errorf("decision log: %v\n%s", err, log)
	}
	// The same decisions are in the audit chain of the data folder holding
	// the models, with their numbers, and the chain verifies.
	if out, code := runAudit(t, "verify", "--data-dir", tmp); code != 0 || !strings.Contains(out, "audit chain OK: 3 records") {
		t.Fatalf("audit verify: code %d\n%s", code, out)
	}
	export := filepath.Join(tmp, "audit.jsonl")
	if out, code := runAudit(t, "export", "--data-dir", tmp, "-o", export); code != 0 {
		t.Fatalf("audit export: code %d\n%s", code, out)
	}
	recs, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, a := range []string{"model_promotion_refused", "model_promoted", "model_rolled_back"} {
		actions[a] = strings.Count(string(recs), `"action":"`+a+`"`)
	}
	if actions["model_promoted"]+actions["model_promotion_refused"] != 2 || actions["model_rolled_back"] != 1 ||
		!strings.Contains(string(recs), "challenger_recall") || !strings.Contains(string(recs), "alert_budget") {
		t.Errorf("audit records %v:\n%s", actions, recs)
	}
}
