package flowscan_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-ids/rampart/internal/detect/flowscan"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/formattest"
	_ "github.com/rampart-ids/rampart/internal/format/zeek"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// replay runs one detector over a Zeek conn log (flushing at the end) and
// returns its signals and each event's zeek.label.
func replay(t *testing.T, d *flowscan.Detector, path string) ([]signal.Signal, map[string]string) {
	t.Helper()
	evs, _ := formattest.FileEvents(t, path, format.DecoderOptions{Format: "zeek"})
	labels := map[string]string{}
	var sigs []signal.Signal
	emit := func(s signal.Signal) { sigs = append(sigs, s) }
	for _, ev := range evs {
		if l, ok := ev.Fields["zeek.label"].(string); ok {
			labels[ev.ID] = l
		}
		if err := d.Detect(context.Background(), ev, emit); err != nil {
			t.Fatal(err)
		}
	}
	d.Flush(context.Background(), emit)
	return sigs, labels
}

// TestStratosphere: on the Nmap scenario the detector names the scanner
// (and only it); on a labeled mixed capture no signal rests mostly on
// Benign or Background flows. The reservoir is smaller than the default to
// keep the test fast; RAMPART_FLOWSCAN_FULL=1 measures the default
// configuration on both mixed captures (about a minute).
func TestStratosphere(t *testing.T) {
	root := testutil.SharedData(t, "stratosphere-zeek")
	cfg := flowscan.Config{Reference: 1000}
	files := []string{"010-zeek-mixed/data/conn.log.labeled", "002-zeek-scenario-port-scanning/conn.log"}
	if os.Getenv("RAMPART_FLOWSCAN_FULL") != "" {
		cfg = flowscan.Config{}
		files = append(files, "008-zeek-mixed/data/conn.log.labeled")
	}
	for _, name := range files {
		d := flowscan.New(cfg, nil)
		sigs, labels := replay(t, d, filepath.Join(root, name))
		mal, other := 0, 0
		for _, s := range sigs {
			m := 0
			for _, id := range s.EventIDs {
				if labels[id] == "Malicious" {
					m++
				}
			}
			switch {
			case len(labels) == 0: // the Nmap scenario is unlabeled: one scanner
				if s.Entities[0].Value != "172.16.1.11" {
					t.Errorf("%s: signal for %v, want only the scanner 172.16.1.11", name, s.Entities)
				}
				mal++
			case m*2 > len(s.EventIDs):
				mal++
			default:
				other++
				t.Errorf("%s: signal rests mostly on flows not labeled Malicious: %s", name, s.Explanation)
			}
			t.Logf("%s: %s", name, s.Explanation)
		}
		if len(labels) == 0 && mal == 0 {
			t.Errorf("%s: no signal for the Nmap scanner", name)
		}
		t.Logf("%s: %d signals, %d on the attack (Malicious flows or the scanner), %d not; %+v", name, len(sigs), mal, other, d.Stats())
	}
}
