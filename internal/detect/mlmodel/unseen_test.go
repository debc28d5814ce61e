package mlmodel_test

import (
	"context"
	"encoding/csv"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-ids/rampart/internal/detect/mlmodel"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/modelreg"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// TestUnseenAttackType holds one attack type out of training at a time and
// sends its payloads through the detector: each must be classified as an
// attack or flagged by the input guard, not scored silently as benign.
// Out-of-support inputs here are real records of a type the model never
// saw (issue 4), not invented extremes.
func TestUnseenAttackType(t *testing.T) {
	if testing.Short() {
		t.Skip("trains four models")
	}
	src := filepath.Join(testutil.SharedData(t, "http-params"), "payload_train.csv")
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, held := range []string{"sqli", "xss", "path-traversal", "cmdi"} {
		dir := t.TempDir()
		out, _ := os.Create(filepath.Join(dir, "payload_train.csv"))
		w := csv.NewWriter(out)
		var heldRows []string
		for i, r := range rows {
			if i > 0 && r[2] == held {
				heldRows = append(heldRows, r[0])
				continue
			}
			w.Write(r)
		}
		w.Flush()
		out.Close()
		a, err := modelreg.Train(context.Background(), modelreg.KindPayload, modelreg.TrainOptions{Data: dir, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		d, err := mlmodel.NewPayload(mlmodel.PayloadOptions{Artifact: a})
		if err != nil {
			t.Fatal(err)
		}
		var attack, guarded, silent int
		for i, p := range heldRows {
			ev := event.New()
			ev.ID = held + string(rune(i))
			ev.Set("url.query", "v="+url.QueryEscape(p))
			var got []signal.Signal
			d.Detect(context.Background(), ev, func(s signal.Signal) { got = append(got, s) })
			switch {
			case len(got) == 0:
				silent++
			case got[0].RuleID == mlmodel.RuleInputAnomaly:
				guarded++
			default:
				attack++
			}
		}
		n := len(heldRows)
		caught := float64(attack+guarded) / float64(n)
		t.Logf("%-15s unseen in training: %4d payloads, classified attack %.3f, guarded %.3f, silent %.3f; guard false flags on held-out benign %.4f",
			held, n, float64(attack)/float64(n), float64(guarded)/float64(n), float64(silent)/float64(n), a.Body.Metrics["guard_flag_rate_benign"])
		if caught < 0.5 {
			t.Errorf("%s: only %.3f of an unseen attack type caught by model or guard", held, caught)
		}
	}
}
