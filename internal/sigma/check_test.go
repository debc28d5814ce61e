package sigma

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/testutil"
)

// TestCheckSigmaHQ loads SigmaHQ's rule folders and requires ≥99.5% to load.
func TestCheckSigmaHQ(t *testing.T) {
	root := testutil.SharedData(t, "sigma")
	var paths []string
	for _, d := range []string{"rules", "rules-emerging-threats", "rules-threat-hunting"} {
		paths = append(paths, filepath.Join(root, d))
	}
	rep := Check(paths, Options{})
	total := rep.Loaded + rep.Failed
	reasons := map[string]int{}
	for _, f := range rep.Failures {
		msg := f.Error
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			if j := strings.Index(msg, ": "); j >= 0 {
				msg = msg[j+2:]
			}
		}
		reasons[msg]++
		t.Logf("failure: %s", f.Error)
	}
	var keys []string
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%4d %s", reasons[k], k)
	}
	rate := float64(rep.Loaded) / float64(total)
	t.Logf("loaded %d of %d (%.2f%%)", rep.Loaded, total, 100*rate)
	if rate < 0.995 {
		t.Errorf("load rate %.4f below 0.995", rate)
	}
}
