// Package detecttest holds test helpers for detectors.
package detecttest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

// JSONSignals runs d over evs in order and returns every signal it emits as
// JSON, so two runs compare byte for byte (ids, counts, evidence, details).
func JSONSignals(tb testing.TB, d detect.Detector, evs []*event.Event) []string {
	tb.Helper()
	var out []string
	for _, ev := range evs {
		err := d.Detect(context.Background(), ev, func(s signal.Signal) {
			b, err := json.Marshal(s)
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, string(b))
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return out
}
