package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func runRules(t *testing.T, args ...string) (string, int) {
	t.Helper()
	return runCmd(t, newRulesCmd(), args...)
}

// runCmd runs cmd with args and returns its output (stdout and stderr) and
// the exit code main would use.
func runCmd(t *testing.T, cmd *cobra.Command, args ...string) (string, int) {
	t.Helper()
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	var ee exitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.code
	default:
		return out.String() + err.Error(), 2
	}
}

// TestRulesCheckKinds: `rules check` on a rules folder checks Sigma files as
// Sigma and threshold files as thresholds (the bundled folder once failed
// every threshold rule as "filter has no rules list"), and a broken rule of
// either kind is reported with its file, line and reason.
func TestRulesCheckKinds(t *testing.T) {
	out, code := runRules(t, "check", "--json", "../../rules")
	var rep struct {
		Loaded, Failed int
		Failures       []struct{ Path, Error string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if code != 0 || rep.Failed != 0 || rep.Loaded < 20 {
		t.Fatalf("bundled rules: code %d, %d loaded, failures %+v", code, rep.Loaded, rep.Failures)
	}

	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badThr := write("thr.yml", "id: t1\ntitle: T\nfilter:\n  event.dataset: x\ngroup_by: [source.ip]\ncapacity: 5\nleak_speed: soon\n")
	badSigma := write("sig.yml", "title: S\nid: 11111111-1111-1111-1111-111111111111\nlogsource: {product: linux}\ndetection:\n  sel:\n    message|bogus: x\n  condition: sel\n")
	write("dup.yml", "id: t1\ntitle: T again\nfilter:\n  event.dataset: x\ngroup_by: [source.ip]\ncapacity: 5\nleak_speed: 1m\n")
	out, code = runRules(t, "check", dir)
	if code != 1 {
		t.Errorf("exit %d with broken rules\n%s", code, out)
	}
	for _, want := range []string{"FAIL " + badThr + ":7:", "leak_speed", "FAIL " + badSigma + ":6:", "bogus", "2 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "filter has no rules list") {
		t.Errorf("a threshold rule was checked as Sigma:\n%s", out)
	}
	// Fixed, the duplicate id across files is what remains.
	write("thr.yml", "id: t1\ntitle: T\nfilter:\n  event.dataset: x\ngroup_by: [source.ip]\ncapacity: 5\nleak_speed: 1m\n")
	if err := os.Remove(badSigma); err != nil {
		t.Fatal(err)
	}
	out, code = runRules(t, "check", dir)
	if code != 1 || !strings.Contains(out, `rule id "t1" already defined`) {
		t.Errorf("duplicate id across files not reported (exit %d):\n%s", code, out)
	}
}
