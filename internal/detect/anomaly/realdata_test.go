package anomaly

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	_ "github.com/rampart-ids/rampart/internal/format/all"
	"github.com/rampart-ids/rampart/internal/format/formattest"
	"github.com/rampart-ids/rampart/internal/testutil"
)

func opensshEvents(t testing.TB) []*event.Event {
	dir := testutil.SharedData(t, "loghub-2k")
	evs, skipped := formattest.FileEvents(t, filepath.Join(dir, "OpenSSH", "OpenSSH_2k.log"), format.DecoderOptions{Parse: format.Options{Year: 2017}})
	if len(evs) < 1900 {
		t.Fatalf("only %d events from 2000 lines (%d not read)", len(evs), skipped)
	}
	return evs
}

func opensshEngine(t testing.TB) (*Anomaly, *Rarity, *detect.Engine) {
	// The sample covers about four hours: five-minute windows and one hour
	// of learning, so the baselines have history to score against.
	a, err := NewAnomaly(AnomalyOptions{Baseline: baselineConfig("5m", "1h")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRarity(RarityOptions{Learning: 3600e9})
	if err != nil {
		t.Fatal(err)
	}
	return a, r, detect.NewEngine(a, r)
}

// TestLoghubOpenSSH replays the real sshd log and asserts what the
// baselines find: the LabSZ host and the root account spike in failures,
// and every address flagged is a labelled brute-forcer.
func TestLoghubOpenSSH(t *testing.T) {
	evs := opensshEvents(t)
	failures := map[string]int{} // labelled auth failures per address
	for i, l := range lines(t, filepath.Join(testutil.SharedData(t, "loghub-2k"), "_derived", "OpenSSH_2k_auth_labels.csv")) {
		f := strings.Split(l, ",")
		if i > 0 && len(f) == 4 && f[2] == "auth_failure" {
			failures[f[3]]++
		}
	}
	a, r, e := opensshEngine(t)
	sigs := runEvents(e, evs)
	per := map[string][]string{}
	for _, s := range sigs {
		per[s.RuleID] = append(per[s.RuleID], s.Entities[0].Value)
		t.Logf("%s %s", s.Details["window_start"], s.Explanation)
	}
	st := a.Model().Stats()
	t.Logf("stats %+v; thresholds user=%v ip=%v host=%v; rarity %+v", st, threshs(a, 0), threshs(a, 2), threshs(a, 1), r.Stats())
	if len(per["baseline-host"]) == 0 || len(per["baseline-user"]) == 0 || len(per["baseline-ip"]) == 0 {
		t.Fatalf("expected host, user and address signals, got %v", per)
	}
	for _, h := range per["baseline-host"] {
		if h != "labsz" {
			t.Errorf("host signal for %q", h)
		}
	}
	for _, u := range per["baseline-user"] {
		if u != "root" {
			t.Errorf("user signal for %q", u)
		}
	}
	for _, ip := range per["baseline-ip"] {
		if failures[ip] < 10 {
			t.Errorf("address %s flagged with %d labelled failures", ip, failures[ip])
		}
	}
	// Measured: 6 host, 3 user, 1 address signals over ~4 hours of one
	// host; more than 15 would mean the budget no longer holds.
	if len(sigs) > 15 {
		t.Errorf("%d signals", len(sigs))
	}
	// The one accepted login is its user's first event: still learning.
	if n := len(per[RuleLoginSource]); n != 0 || r.Stats().Checked != 1 {
		t.Errorf("login_source: %d signals, %d checked", n, r.Stats().Checked)
	}

	// Replay determinism: fresh detectors over the same events, same signals.
	_, _, e2 := opensshEngine(t)
	again := runEvents(e2, evs)
	if len(again) != len(sigs) {
		t.Fatalf("replay gave %d signals, first run %d", len(again), len(sigs))
	}
	for i := range sigs {
		if again[i].ID != sigs[i].ID || again[i].Explanation != sigs[i].Explanation {
			t.Fatalf("replay differs at %d:\n%+v\n%+v", i, again[i], sigs[i])
		}
	}
}

func threshs(a *Anomaly, kind int) []float64 {
	return []float64{a.Model().Threshold(kind, 0), a.Model().Threshold(kind, 1), a.Model().Threshold(kind, 2)}
}

// lines is a helper for reading small files in tests.
func lines(t testing.TB, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
