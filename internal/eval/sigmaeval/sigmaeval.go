// Package sigmaeval registers the Sigma evaluation suites: sigma-regression
// (SigmaHQ regression_data: each rule must match its recorded events) and
// coverage (labeled attack captures: files and ATT&CK techniques with
// medium+ alerts).
package sigmaeval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rampart-ids/rampart/internal/eval"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/sigma"
)

func init() {
	eval.Register(eval.Suite{
		Name:    "sigma-regression",
		Summary: "SigmaHQ regression_data: each rule must match its recorded events; cross-fire of other rules.",
		Run:     runRegression,
	})
	eval.Register(eval.Suite{
		Name:    "coverage",
		Summary: "Labeled capture files: files and ATT&CK techniques with medium+ Sigma alerts.",
		Run:     runCoverage,
	})
}

// maxEventsPerFile bounds what one evaluation file may contribute.
const maxEventsPerFile = 1_000_000

// readEvents decodes every event of one file with the format auto-detection.
// Bad records are counted and skipped (they are reported, not fatal).
func readEvents(path string, fn func(ev *event.Event)) (bad int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	dec := format.NewDecoder(f, "file:"+path, format.DecoderOptions{})
	ev := event.New()
	for n := 0; n < maxEventsPerFile; n++ {
		ev.Reset()
		err := dec.Next(ev)
		if errors.Is(err, io.EOF) {
			return bad, nil
		}
		var re *format.RecordError
		if errors.As(err, &re) {
			bad++
			continue
		}
		if err != nil {
			return bad, fmt.Errorf("reading %s: %w", path, err)
		}
		fn(ev)
	}
	return bad, fmt.Errorf("reading %s: more than %d events", path, maxEventsPerFile)
}

// regression result

type regressionFailure struct {
	Test   string `json:"test"`
	RuleID string `json:"rule_id"`
	Reason string `json:"reason"`
}

type regressionResult struct {
	tests, passed      int
	events, crossFired int
	failures           []regressionFailure
	loadFailed         int
}

func (r *regressionResult) JSON() map[string]any {
	fails := make([]map[string]any, 0, len(r.failures))
	for _, f := range r.failures {
		fails = append(fails, map[string]any{"test": f.Test, "rule_id": f.RuleID, "reason": f.Reason})
	}
	rate := 0.0
	if r.events > 0 {
		rate = float64(r.crossFired) / float64(r.events)
	}
	return map[string]any{
		"tests":              r.tests,
		"passed":             r.passed,
		"cross_fire_rate":    rate,
		"events":             r.events,
		"rule_load_failures": r.loadFailed,
		"failures":           fails,
	}
}

func (r *regressionResult) Table(w io.Writer) error {
	j := r.JSON()
	_, err := fmt.Fprintf(w, "tests %d  passed %d  cross-fire rate %.3f (%d of %d events)\n", r.tests, r.passed, j["cross_fire_rate"], r.crossFired, r.events)
	if err != nil {
		return err
	}
	for _, f := range r.failures {
		if _, err := fmt.Fprintf(w, "FAIL %s (%s): %s\n", f.Test, f.RuleID, f.Reason); err != nil {
			return err
		}
	}
	return nil
}

type infoFile struct {
	RuleMetadata []struct {
		ID    string `yaml:"id"`
		Title string `yaml:"title"`
	} `yaml:"rule_metadata"`
	Tests []struct {
		Name       string `yaml:"name"`
		Type       string `yaml:"type"`
		MatchCount *int   `yaml:"match_count"`
		Path       string `yaml:"path"`
	} `yaml:"regression_tests_info"`
}

func runRegression(ctx context.Context, opts eval.Options) (eval.Result, error) {
	if opts.Data == "" {
		return nil, fmt.Errorf("sigma-regression needs --data (a SigmaHQ checkout with regression_data)")
	}
	rulePaths := opts.Rules
	if len(rulePaths) == 0 {
		m, _ := filepath.Glob(filepath.Join(opts.Data, "rules*"))
		for _, p := range m {
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				rulePaths = append(rulePaths, p)
			}
		}
	}
	det, err := sigma.New(sigma.Options{Paths: rulePaths, Statuses: []string{"stable", "test", "experimental", "deprecated", "unsupported", ""}})
	if err != nil {
		return nil, fmt.Errorf("loading rules: %w", err)
	}
	res := &regressionResult{loadFailed: det.Report().Failed}
	var infos []string
	err = filepath.WalkDir(filepath.Join(opts.Data, "regression_data"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "info.yml" {
			infos = append(infos, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking regression_data: %w", err)
	}
	sort.Strings(infos)
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		regressionOne(det, info, opts.Data, res)
	}
	if opts.Progress != nil {
		fmt.Fprintf(opts.Progress, "sigma-regression: %d/%d passed\n", res.passed, res.tests)
	}
	return res, nil
}

func regressionOne(det *sigma.Detector, info, dataDir string, res *regressionResult) {
	data, err := os.ReadFile(info)
	rel, _ := filepath.Rel(dataDir, filepath.Dir(info))
	fail := func(ruleID, reason string) {
		res.failures = append(res.failures, regressionFailure{Test: rel, RuleID: ruleID, Reason: reason})
	}
	var inf infoFile
	if err == nil {
		err = yaml.Unmarshal(data, &inf)
	}
	if err != nil {
		res.tests++
		fail("", "reading info.yml: "+err.Error())
		return
	}
	if len(inf.Tests) == 0 {
		return // no active test entry
	}
	ruleID := ""
	if len(inf.RuleMetadata) > 0 {
		ruleID = inf.RuleMetadata[0].ID
	}
	for _, tc := range inf.Tests {
		res.tests++
		want := 1
		if tc.MatchCount != nil {
			want = *tc.MatchCount
		}
		jsons, _ := filepath.Glob(filepath.Join(filepath.Dir(info), "*.json"))
		if len(jsons) == 0 {
			// A folder with only the native .evtx is scored from it directly.
			jsons, _ = filepath.Glob(filepath.Join(filepath.Dir(info), "*.evtx"))
		}
		if len(jsons) == 0 {
			fail(ruleID, "no .json or .evtx events beside info.yml")
			continue
		}
		got, events, bad := 0, 0, 0
		for _, j := range jsons {
			n, err := readEvents(j, func(ev *event.Event) {
				events++
				other := false
				for _, m := range det.Matches(ev) {
					if m.RuleID == ruleID {
						got++
					} else {
						other = true
					}
				}
				res.events++
				if other {
					res.crossFired++
				}
			})
			bad += n
			if err != nil {
				fail(ruleID, err.Error())
			}
		}
		switch {
		case events == 0:
			fail(ruleID, fmt.Sprintf("no events decoded (%d bad records)", bad))
		case got < want:
			fail(ruleID, fmt.Sprintf("matched %d of %d events, want at least %d (%s)", got, events, want, tc.Name))
		default:
			res.passed++
		}
	}
}

// coverage

type coverageResult struct {
	files, filesWithAlerts int
	// Of the files without a medium+ alert: those with only low or
	// informational signals, and those with no signal at all.
	filesLowOnly, filesSilent int
	techniques                map[string]bool
	techWithAlerts            map[string]bool
	techMatched               map[string]bool
	alerts, signals           int
	badRecords                int
	missing                   []string
}

func (r *coverageResult) JSON() map[string]any {
	return map[string]any{
		"files":                  r.files,
		"files_with_alerts":      r.filesWithAlerts,
		"files_low_alerts_only":  r.filesLowOnly,
		"files_without_signals":  r.filesSilent,
		"techniques":             len(r.techniques),
		"techniques_with_alerts": len(r.techWithAlerts),
		"techniques_matched":     len(r.techMatched),
		"alerts":                 r.alerts,
		"signals":                r.signals,
		"bad_records":            r.badRecords,
		"missing_files":          len(r.missing),
	}
}

func (r *coverageResult) Table(w io.Writer) error {
	pct := 0.0
	if r.files > 0 {
		pct = 100 * float64(r.filesWithAlerts) / float64(r.files)
	}
	_, err := fmt.Fprintf(w, "files %d  with medium+ alerts %d (%.1f%%)  with only low/informational signals %d  without signals %d\ntechniques %d  with alerts %d  matched by tag %d\nalerts (medium+) %d  signals %d  bad records %d  missing files %d\n",
		r.files, r.filesWithAlerts, pct, r.filesLowOnly, r.filesSilent, len(r.techniques), len(r.techWithAlerts), len(r.techMatched), r.alerts, r.signals, r.badRecords, len(r.missing))
	return err
}

func runCoverage(ctx context.Context, opts eval.Options) (eval.Result, error) {
	if opts.Data == "" {
		return nil, fmt.Errorf("coverage needs --data (a folder with labels.csv)")
	}
	if len(opts.Rules) == 0 {
		return nil, fmt.Errorf("coverage needs --rules (Sigma rule files or folders)")
	}
	det, err := sigma.New(sigma.Options{Paths: opts.Rules})
	if err != nil {
		return nil, fmt.Errorf("loading rules: %w", err)
	}
	rows, err := readLabels(filepath.Join(opts.Data, "labels.csv"))
	if err != nil {
		return nil, err
	}
	res := &coverageResult{techniques: map[string]bool{}, techWithAlerts: map[string]bool{}, techMatched: map[string]bool{}}
	for i, row := range rows {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := filepath.Join(opts.Data, row.path)
		if _, err := os.Stat(p); err != nil {
			res.missing = append(res.missing, row.path)
			continue
		}
		res.files++
		for _, t := range row.techniques {
			res.techniques[t] = true
		}
		fileAlerts, fileSignals := 0, 0
		var tech []string
		bad, err := readEvents(p, func(ev *event.Event) {
			for _, m := range det.Matches(ev) {
				res.signals++
				fileSignals++
				if levelRank(m.Level) >= 2 {
					res.alerts++
					fileAlerts++
					for _, t := range m.Tags {
						tech = append(tech, strings.ToUpper(strings.TrimPrefix(strings.ToLower(t), "attack.")))
					}
				}
			}
		})
		res.badRecords += bad
		if err != nil {
			return nil, err
		}
		switch {
		case fileAlerts == 0 && fileSignals > 0:
			res.filesLowOnly++
		case fileSignals == 0:
			res.filesSilent++
		}
		if fileAlerts > 0 {
			res.filesWithAlerts++
			for _, t := range row.techniques {
				res.techWithAlerts[t] = true
				for _, a := range tech {
					if a == t || strings.HasPrefix(a, t+".") || strings.HasPrefix(t, a+".") {
						res.techMatched[t] = true
					}
				}
			}
		}
		if opts.Progress != nil && (i+1)%50 == 0 {
			fmt.Fprintf(opts.Progress, "coverage: %d/%d files\n", i+1, len(rows))
		}
	}
	return res, nil
}

func levelRank(l string) int {
	switch l {
	case "informational":
		return 0
	case "low":
		return 1
	case "medium", "":
		return 2
	case "high":
		return 3
	case "critical":
		return 4
	}
	return -1
}

type labelRow struct {
	path       string
	techniques []string
}

func readLabels(path string) ([]labelRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening labels: %w", err)
	}
	defer f.Close()
	return parseLabels(f, path)
}
