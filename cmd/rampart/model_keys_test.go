package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/modelreg"
)

// TestModelKeysRotateAndRefusal: models saved before and after
// `model keys rotate` both verify (each with its key); an unsigned one is
// listed as REFUSED with the reason and cannot be inspected.
func TestModelKeysRotateAndRefusal(t *testing.T) {
	models := filepath.Join(t.TempDir(), "models")
	reg, err := modelreg.Open(models)
	if err != nil {
		t.Fatal(err)
	}
	save := func(v string) {
		a, err := model.New(model.Body{Kind: "test", Name: "m", Version: v,
			Lineage: model.Lineage{ClassCounts: map[string]int{"normal": 1}, ContentHash: "sha256:00"}}, []int{1})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := reg.Save(a, false); err != nil {
			t.Fatal(err)
		}
	}
	save("1")
	out, err := runModel(t, "keys", "list", "--models", models)
	first := regexp.MustCompile(`(?m)^([0-9a-f]{16})\s+\*\s+yes\s`).FindStringSubmatch(out)
	if err != nil || first == nil {
		t.Fatalf("keys list: %v\n%s", err, out)
	}
	out, err = runModel(t, "keys", "rotate", "--models", models)
	second := regexp.MustCompile(`now ([0-9a-f]{16})`).FindStringSubmatch(out)
	if err != nil || second == nil || second[1] == first[1] {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	save("2")
	save("3")
	os.Remove(filepath.Join(models, "m", "3.model.sig"))
	out, err = runModel(t, "list", "--models", models)
	for _, re := range []string{
		`(?m)^m\s+1\s+\*\s+test\s.*\s` + first[1] + `\s+sha256:`,
		`(?m)^m\s+2\s+test\s.*\s` + second[1] + `\s+sha256:`,
		`(?m)^m\s+3\s.*REFUSED: .*model is not signed \(no 3.model.sig\)`,
	} {
		if err != nil || !regexp.MustCompile(re).MatchString(out) {
			t.Fatalf("list lacks %s: %v\n%s", re, err, out)
		}
	}
	if _, err := runModel(t, "inspect", "m@3", "--models", models); err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Fatalf("inspect unsigned: %v", err)
	}
	out, err = runModel(t, "keys", "list", "--models", models)
	if err != nil || strings.Count(out, "yes") != 1 || !strings.Contains(out, first[1]) || !regexp.MustCompile(second[1]+`\s+\*`).MatchString(out) {
		t.Fatalf("keys list after rotate: %v\n%s", err, out)
	}
}
