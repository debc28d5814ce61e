package threshold

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// replayZeek runs the bundled rules over one Zeek log and returns the
// network-scan signals and each event's zeek.label (labeled files only).
func replayZeek(t *testing.T, path string) ([]signal.Signal, map[string]string) {
	t.Helper()
	rules, err := LoadRules(bundledRules())
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	det := NewFromRules(rules, Options{})
	dec := format.NewDecoder(f, "file:"+filepath.Base(path), format.DecoderOptions{Format: "zeek"})
	labels := map[string]string{}
	var sigs []signal.Signal
	for {
		ev := event.New()
		err := dec.Next(ev)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			continue // headers and quarantined records are the parser's concern
		}
		if l, ok := ev.Fields["zeek.label"].(string); ok {
			labels[ev.ID] = l
		}
		_ = det.Detect(context.Background(), ev, func(s signal.Signal) {
			if s.RuleID == "net-port-scan" || s.RuleID == "net-address-scan" {
				sigs = append(sigs, s)
			}
		})
	}
	return sigs, labels
}

// TestStratosphereScans: the Nmap scenario (one scanner, 172.16.1.11) raises
// port-scan and address-scan signals naming only the scanner; on the mixed
// captures no scan signal rests on a flow labeled Benign or Background.
// Thresholds are scan.zeek's defaults, not tuned on these files.
func TestStratosphereScans(t *testing.T) {
	root := testutil.SharedData(t, "stratosphere-zeek")
	if _, ok := format.Lookup("zeek"); !ok {
		t.Skip("zeek format not registered in this build")
	}
	sigs, _ := replayZeek(t, filepath.Join(root, "002-zeek-scenario-port-scanning", "conn.log"))
	by := map[string]int{}
	for _, s := range sigs {
		by[s.RuleID]++
		if s.Entities[0].Value != "172.16.1.11" {
			t.Errorf("%s names %v, want the scanner 172.16.1.11 first", s.RuleID, s.Entities)
		}
	}
	if by["net-port-scan"] < 10 || by["net-address-scan"] < 1 {
		t.Errorf("port-scanning scenario: signals by rule %v, want ≥10 net-port-scan and ≥1 net-address-scan", by)
	}
	t.Logf("002 port scanning: %v", by)

	for _, name := range []string{"008-zeek-mixed", "010-zeek-mixed"} {
		sigs, labels := replayZeek(t, filepath.Join(root, name, "data", "conn.log.labeled"))
		fp := 0
		for _, s := range sigs {
			for _, id := range s.EventIDs {
				if l := labels[id]; l != "Malicious" {
					fp++
					t.Errorf("%s: %s (%s) rests on a %q flow", name, s.RuleID, s.Explanation, l)
					break
				}
			}
		}
		t.Logf("%s: %d scan signals, %d on benign or background flows", name, len(sigs), fp)
	}
}
