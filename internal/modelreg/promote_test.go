package modelreg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/ml/payload"
	"github.com/rampart-ids/rampart/internal/ml/robust"
)

// payloadArtifact trains a payload classifier on rows ("a:" prefix marks
// an attack) and wraps it as version v of "web".
func payloadArtifact(t *testing.T, v string, rows []string) *model.Artifact {
	t.Helper()
	var ps []string
	var ys []bool
	for _, r := range rows {
		p, attack := strings.CutPrefix(r, "a:")
		ps, ys = append(ps, p), append(ys, attack)
	}
	cfg := payload.DefaultConfig()
	cfg.MinCount = 1
	c, err := payload.Train(cfg, ps, ys)
	if err != nil {
		t.Fatal(err)
	}
	a, err := model.New(model.Body{Kind: "payload-lr", Name: "web", Version: v,
		Lineage: model.Lineage{ClassCounts: map[string]int{"rows": len(rows)}, ContentHash: "sha256:00"}}, c)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func trainingRows(attacksAsBenign bool) []string {
	var out []string
	for i := range 40 {
		out = append(out, fmt.Sprintf("user%d", i), fmt.Sprintf("madrid %d", i), fmt.Sprintf("calle mayor %d", i))
		atk := []string{fmt.Sprintf("1' or '%d'='%d", i, i), fmt.Sprintf("<script>alert(%d)</script>", i), fmt.Sprintf("../../etc/passwd%d", i)}
		for k, a := range atk {
			if attacksAsBenign && k == 0 {
				out = append(out, a) // poisoned: the SQL injections labeled benign
			} else {
				out = append(out, "a:"+a)
			}
		}
	}
	return out
}

func writeTestCSV(t *testing.T, dir string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("payload,length,attack_type,label\n")
	for i := 100; i < 140; i++ {
		fmt.Fprintf(&b, "\"user%d\",5,norm,norm\n\"madrid %d\",9,norm,norm\n", i, i)
		fmt.Fprintf(&b, "\"1' or '%d'='%d\",12,sqli,anom\n\"<script>alert(%d)</script>\",20,xss,anom\n", i, i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "payload_test.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPromoteRefuseRollback(t *testing.T) {
	reg, err := Open(filepath.Join(t.TempDir(), "models"))
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	writeTestCSV(t, data)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, a := range []*model.Artifact{
		payloadArtifact(t, "1", trainingRows(false)),
		payloadArtifact(t, "2", trainingRows(true)),  // poisoned challenger
		payloadArtifact(t, "3", trainingRows(false)), // clean retrain
	} {
		if _, _, err := reg.Save(a, false); err != nil {
			t.Fatal(err)
		}
	}
	// The poisoned version 2 loses recall: refused, 1 stays active.
	d, err := reg.Promote(context.Background(), "web", PromoteOptions{Data: data, Challenger: "2", Now: now, Actor: "test"})
	if !errors.Is(err, robust.ErrRefused) || d.Action != robust.ActionRefuse || !strings.Contains(d.Reason, "recall") {
		t.Fatalf("poisoned challenger: %+v, %v", d, err)
	}
	if d.Champion.Recall <= d.Challenger.Recall+0.02 || d.Champion.Bad != 80 || d.Champion.N != 160 {
		t.Errorf("scores champion %+v challenger %+v", d.Champion, d.Challenger)
	}
	if v, _ := reg.Active("web"); v != "1" {
		t.Fatalf("active %s after refusal", v)
	}
	// Default challenger is the newest other version (3): promoted.
	d, err = reg.Promote(context.Background(), "web", PromoteOptions{Data: data, Now: now, Actor: "test"})
	if err != nil || d.Action != robust.ActionPromote || d.To != "3" {
		t.Fatalf("clean challenger: %+v, %v", d, err)
	}
	if v, _ := reg.Active("web"); v != "3" {
		t.Fatalf("active %s after promotion", v)
	}
	// Version 1 scores as well as 3: promoting it back passes the gate.
	d, err = reg.Promote(context.Background(), "web", PromoteOptions{Data: data, Challenger: "1", Now: now})
	if err != nil || d.Action != robust.ActionPromote {
		t.Fatalf("equal model back: %+v, %v", d, err)
	}
	d, err = reg.Rollback("web", now, "test")
	if err != nil || d.To != "3" || d.From != "1" {
		t.Fatalf("rollback: %+v, %v", d, err)
	}
	d, err = reg.Rollback("web", now, "test")
	if err != nil || d.To != "1" {
		t.Fatalf("second rollback: %+v, %v", d, err)
	}
	if _, err := reg.Rollback("web", now, "test"); !errors.Is(err, robust.ErrNoPromotion) {
		t.Errorf("rollback past the first version: %v", err)
	}
	ds, err := reg.Decisions("web")
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, d := range ds {
		actions = append(actions, d.Action)
	}
	if got := strings.Join(actions, ","); got != "refuse,promote,promote,rollback,rollback" {
		t.Errorf("logged %s", got)
	}
	if ds[0].Challenger == nil || ds[0].Challenger.Recall >= ds[0].Champion.Recall || !strings.HasPrefix(ds[0].DataSHA256, "sha256:") || ds[0].Actor != "test" {
		t.Errorf("refusal logged without its numbers: %+v", ds[0])
	}
}

func TestPromoteErrors(t *testing.T) {
	reg, _ := Open(filepath.Join(t.TempDir(), "models"))
	data := t.TempDir()
	writeTestCSV(t, data)
	if _, err := reg.Promote(context.Background(), "web", PromoteOptions{Data: data}); !errors.Is(err, ErrNotFound) {
		t.Errorf("no model: %v", err)
	}
	if _, _, err := reg.Save(payloadArtifact(t, "1", trainingRows(false)), false); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Promote(context.Background(), "web", PromoteOptions{Data: data}); !errors.Is(err, ErrNotFound) {
		t.Errorf("no challenger: %v", err)
	}
	if _, _, err := reg.Save(payloadArtifact(t, "2", trainingRows(false)), false); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Promote(context.Background(), "web", PromoteOptions{Data: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "payload_test.csv") {
		t.Errorf("empty data folder: %v", err)
	}
	if _, err := reg.Promote(context.Background(), "web", PromoteOptions{Data: data, Bounds: &robust.Bounds{MaxRecallDrop: -1}}); err == nil {
		t.Error("negative bound accepted")
	}
	// A tampered challenger is refused by the loader, not scored.
	p := filepath.Join(reg.Dir(), "web", "2.model")
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 1
	os.WriteFile(p, b, 0o644)
	if _, err := reg.Promote(context.Background(), "web", PromoteOptions{Data: data}); err == nil || !strings.Contains(err.Error(), "refusing model file") {
		t.Errorf("tampered challenger: %v", err)
	}
	if v, _ := reg.Active("web"); v != "1" {
		t.Errorf("active %s", v)
	}
}
