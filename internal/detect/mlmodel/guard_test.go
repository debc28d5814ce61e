package mlmodel_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/detect/mlmodel"
	"github.com/rampart-ids/rampart/internal/ml/guard"
	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/modelreg"
)

// TestPayloadWithoutInputGuard: an artifact trained before the input guard
// existed still loads; its signals say the shape is not guarded, and the
// unseen-feature share still guards it.
func TestPayloadWithoutInputGuard(t *testing.T) {
	_, a := trainRegistry(t)
	body := a.Body
	body.InputGuard = nil
	old, err := model.New(body, json.RawMessage(a.Body.Params))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := guard.FromArtifact(old); !errors.Is(err, guard.ErrNoGuard) {
		t.Fatalf("FromArtifact of an old artifact: %v", err)
	}
	d, err := mlmodel.NewPayload(mlmodel.PayloadOptions{Artifact: old})
	if err != nil {
		t.Fatalf("old artifact refused: %v", err)
	}
	byEvent := map[string]string{}
	for _, s := range run(t, d, readEvents(t, filepath.Join("testdata", "payload_events.jsonl"))) {
		byEvent[s.EventIDs[0]] = s.RuleID
		if g, _ := s.Details["input_guard"].(string); !strings.Contains(g, "no input guard") {
			t.Errorf("%s: input_guard detail %q does not say the guard is absent", s.EventIDs[0], g)
		}
	}
	if byEvent["ood-blob"] != mlmodel.RuleInputAnomaly {
		t.Errorf("ood-blob without the shape guard: %q", byEvent["ood-blob"])
	}
	// What the shape guard alone catches passes without it: the reason to retrain.
	if r := byEvent["out-of-support-shape"]; r != "" {
		t.Logf("out-of-support-shape without the shape guard: %q", r)
	}
}

// TestInputGuardTamper: the input guard is part of the signed body, so
// loosening it in the file (even with the hash recomputed) is refused.
func TestInputGuardTamper(t *testing.T) {
	dir, a := trainRegistry(t)
	g, err := guard.FromArtifact(a)
	if err != nil {
		t.Fatal(err)
	}
	g.RangeThreshold, g.DepthThreshold, g.DistThreshold = 1e9, 1, 1e9
	raw, err := g.Encode()
	if err != nil {
		t.Fatal(err)
	}
	body := a.Body
	body.InputGuard = raw
	loose, err := model.New(body, json.RawMessage(a.Body.Params))
	if err != nil {
		t.Fatal(err)
	}
	data, err := loose.Encode()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "payload", "1.model")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	reg, err := modelreg.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Load("payload", ""); !errors.Is(err, model.ErrSignature) {
		t.Fatalf("loosened guard with a recomputed hash: %v, want a signature error", err)
	}
	// A malformed guard inside an otherwise valid artifact is refused too.
	body.InputGuard = json.RawMessage(`{"features":["x"],"lo":[0],"hi":[1]}`)
	bad, err := model.New(body, json.RawMessage(a.Body.Params))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mlmodel.NewPayload(mlmodel.PayloadOptions{Artifact: bad}); err == nil || !strings.Contains(err.Error(), "input guard") {
		t.Fatalf("malformed guard: %v", err)
	}
}
