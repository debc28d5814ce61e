package sigmaeval

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/eval"
	_ "github.com/rampart-ids/rampart/internal/format/all"
	"github.com/rampart-ids/rampart/internal/testutil"
)

func TestParseLabels(t *testing.T) {
	in := "evtx_path,techniques,jsonl_path\n" +
		"a.evtx,T1059.001;T1003,jsonl/a.jsonl\n" +
		"b.evtx,t1110 T1078,\n" +
		",T1,\n"
	got, err := parseLabels(strings.NewReader(in), "labels.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := []labelRow{{path: "jsonl/a.jsonl", techniques: []string{"T1059.001", "T1003"}}, {path: "b.evtx", techniques: []string{"T1110", "T1078"}}}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(labelRow{})); d != "" {
		t.Errorf("labels (-want +got):\n%s", d)
	}
	if _, err := parseLabels(strings.NewReader(""), "x"); err == nil {
		t.Error("empty labels: want error")
	}
}

func TestRegressionSuite(t *testing.T) {
	dir := testutil.SharedData(t, "sigma")
	s, err := eval.Lookup("sigma-regression")
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), eval.Options{Data: dir})
	if err != nil {
		t.Fatal(err)
	}
	res.Table(os.Stdout)
	j := res.JSON()
	for _, k := range []string{"tests", "passed", "cross_fire_rate", "failures"} {
		if _, ok := j[k]; !ok {
			t.Errorf("missing key %s", k)
		}
	}
	if j["tests"] != 202 {
		t.Errorf("tests = %v, want 202", j["tests"])
	}
	if p := j["passed"].(int); p < 195 {
		t.Errorf("passed %d of 202", p)
	}
}

func TestCoverageSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dir := testutil.SharedData(t, "windows-evtx")
	rules := testutil.SharedData(t, "sigma")
	s, _ := eval.Lookup("coverage")
	res, err := s.Run(context.Background(), eval.Options{Data: dir, Rules: []string{rules + "/rules", rules + "/rules-emerging-threats", rules + "/rules-threat-hunting"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Table(os.Stdout)
	j := res.JSON()
	for _, k := range []string{"files", "files_with_alerts", "techniques", "techniques_with_alerts", "techniques_matched", "alerts"} {
		if _, ok := j[k]; !ok {
			t.Errorf("missing key %s", k)
		}
	}
	// Every file is detected, low-only or silent.
	if sum := j["files_with_alerts"].(int) + j["files_low_alerts_only"].(int) + j["files_without_signals"].(int); sum != j["files"].(int) {
		t.Errorf("files_with_alerts + files_low_alerts_only + files_without_signals = %d, files = %v", sum, j["files"])
	}
}
