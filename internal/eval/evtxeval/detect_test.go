package evtxeval

// Identical detection on .evtx and on its JSON renderings: the same Sigma
// rules fire on every record, and the sigma-regression and coverage suites
// (internal/eval/sigmaeval) score the .evtx files as they score the JSON.

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/eval"
	_ "github.com/rampart-ids/rampart/internal/eval/sigmaeval"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	_ "github.com/rampart-ids/rampart/internal/format/all"
	"github.com/rampart-ids/rampart/internal/sigma"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// allStatuses loads every rule, as the sigma-regression suite does.
var allStatuses = []string{"stable", "test", "experimental", "deprecated", "unsupported", ""}

// ruleMatches decodes path with the format auto-detection and returns, per
// EventRecordID, the sorted ids of the rules that match.
func ruleMatches(t *testing.T, det *sigma.Detector, path string) map[int64][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := format.NewDecoder(f, "file:"+path, format.DecoderOptions{})
	ev := event.New()
	out := map[int64][]string{}
	for {
		ev.Reset()
		err := dec.Next(ev)
		if errors.Is(err, io.EOF) {
			return out
		}
		var re *format.RecordError
		if errors.As(err, &re) {
			continue // damaged pieces are the parity suite's business
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		id, ok := ev.Fields["winlog.record_id"].(int64)
		if !ok {
			_, pos := dec.Last()
			t.Fatalf("%s %s: no winlog.record_id", path, pos)
		}
		var ids []string
		for _, m := range det.Matches(ev) {
			ids = append(ids, m.RuleID)
		}
		slices.Sort(ids)
		out[id] = append(out[id], strings.Join(ids, " "))
	}
}

// filePairs lists (evtx, JSON rendering) pairs of both corpora.
func filePairs(t *testing.T) [][2]string {
	t.Helper()
	var pairs [][2]string
	rd := filepath.Join(testutil.SharedData(t, "sigma"), "regression_data")
	err := filepath.WalkDir(rd, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".evtx" {
			pairs = append(pairs, [2]string{p, strings.TrimSuffix(p, ".evtx") + ".json"})
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	wd := testutil.SharedData(t, "windows-evtx")
	rows, err := readLabels(filepath.Join(wd, "labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.jsonl != "" && r.converted > 0 {
			pairs = append(pairs, [2]string{filepath.Join(wd, r.evtx), filepath.Join(wd, r.jsonl)})
		}
	}
	return pairs
}

// TestSameMatchesPerRecord: for every record of both corpora that has a
// reference rendering, the rules matching the .evtx record are exactly the
// rules matching its JSON rendering (all 3,777 SigmaHQ rules, every status).
func TestSameMatchesPerRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("matches every rule on both corpora")
	}
	sd := testutil.SharedData(t, "sigma")
	var paths []string
	for _, d := range []string{"rules", "rules-emerging-threats", "rules-threat-hunting", "rules-placeholder"} {
		paths = append(paths, filepath.Join(sd, d))
	}
	det, err := sigma.New(sigma.Options{Paths: paths, Statuses: allStatuses})
	if err != nil {
		t.Logf("rules that did not load (same for both inputs): %v", err)
		if det == nil {
			t.Fatal(err)
		}
	}
	records, matched, diffs := 0, 0, 0
	for _, p := range filePairs(t) {
		got := ruleMatches(t, det, p[0])
		for id, want := range ruleMatches(t, det, p[1]) {
			records += len(want)
			for _, w := range want {
				if w != "" {
					matched++
				}
			}
			if !slices.Equal(got[id], want) {
				diffs++
				if diffs <= 10 {
					t.Errorf("%s record %d: rules on .evtx %q, on JSON %q", p[0], id, got[id], want)
				}
			}
		}
	}
	t.Logf("%d records with a JSON rendering, %d with a match; %d differ", records, matched, diffs)
	if records < 23371+202 {
		t.Errorf("compared %d records, want at least %d", records, 23371+202)
	}
	if diffs != 0 {
		t.Errorf("%d records match different rules on .evtx and JSON", diffs)
	}
}

// evtxRegressionLayout builds in dst a copy of the regression_data layout
// under src (regression_data/**/info.yml, as symlinks) in which the
// event file beside each info.yml is the .evtx instead of its .json
// rendering. The sigma-regression suite reads "*.json" beside info.yml and
// detects the format from the content (the evtx magic), so the .evtx is
// linked under its base name with a .json extension. It returns the number
// of .evtx files linked.
func evtxRegressionLayout(src, dst string) (int, error) {
	n := 0
	err := filepath.WalkDir(filepath.Join(src, "regression_data"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		var link string
		switch {
		case d.Name() == "info.yml":
			link = filepath.Join(dst, rel)
		case filepath.Ext(p) == ".evtx":
			link = filepath.Join(dst, strings.TrimSuffix(rel, ".evtx")+".json")
			n++
		default:
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return err
		}
		return os.Symlink(p, link)
	})
	return n, err
}

func runSuite(t *testing.T, name string, opts eval.Options) map[string]any {
	t.Helper()
	s, err := eval.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("%s on %s: %v", name, opts.Data, err)
	}
	return res.JSON()
}

// TestSigmaRegressionOnEVTX runs the sigma-regression suite on the JSON
// renderings and on the .evtx files: same tests, same passes, same failures.
func TestSigmaRegressionOnEVTX(t *testing.T) {
	if testing.Short() {
		t.Skip("loads every SigmaHQ rule twice")
	}
	sd := testutil.SharedData(t, "sigma")
	dir := t.TempDir()
	n, err := evtxRegressionLayout(sd, dir)
	if err != nil {
		t.Fatal(err)
	}
	if n != 202 {
		t.Errorf("linked %d .evtx files, want 202", n)
	}
	// The suite's default rules (the rules* folders of --data), named
	// explicitly because the layout in dir holds no rules.
	rules, err := filepath.Glob(filepath.Join(sd, "rules*"))
	if err != nil || len(rules) < 4 {
		t.Fatalf("rule folders %v: %v", rules, err)
	}
	js := runSuite(t, "sigma-regression", eval.Options{Data: sd, Rules: rules})
	ev := runSuite(t, "sigma-regression", eval.Options{Data: dir, Rules: rules})
	t.Logf("json: tests %v passed %v events %v cross-fire %v", js["tests"], js["passed"], js["events"], js["cross_fire_rate"])
	t.Logf("evtx: tests %v passed %v events %v cross-fire %v", ev["tests"], ev["passed"], ev["events"], ev["cross_fire_rate"])
	if js["tests"] != 202 {
		t.Errorf("json tests = %v, want 202", js["tests"])
	}
	for _, k := range []string{"tests", "passed", "events", "cross_fire_rate", "rule_load_failures", "failures"} {
		if d := cmp.Diff(js[k], ev[k]); d != "" {
			t.Errorf("%s differs (-json +evtx):\n%s", k, d)
		}
	}
}

// TestCoverageOnEVTX runs the coverage suite over the windows-evtx corpus
// twice, with a labels.csv whose path column names the .jsonl renderings
// and one whose path column names the .evtx files.
func TestCoverageOnEVTX(t *testing.T) {
	if testing.Short() {
		t.Skip("matches the Sigma rules over the corpus twice")
	}
	wd := testutil.SharedData(t, "windows-evtx")
	sd := testutil.SharedData(t, "sigma")
	rules := []string{sd + "/rules", sd + "/rules-emerging-threats", sd + "/rules-threat-hunting"}
	rows, err := coverageRows(filepath.Join(wd, "labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	layout := func(name string, col int) string {
		dir := filepath.Join(t.TempDir(), name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, sub := range []string{"hayabusa-sample-evtx", "jsonl"} {
			if err := os.Symlink(filepath.Join(wd, sub), filepath.Join(dir, sub)); err != nil {
				t.Fatal(err)
			}
		}
		f, err := os.Create(filepath.Join(dir, "labels.csv"))
		if err != nil {
			t.Fatal(err)
		}
		w := csv.NewWriter(f)
		w.Write([]string{"path", "techniques"})
		for _, r := range rows {
			w.Write([]string{r[col], r[2]})
		}
		w.Flush()
		if err := errors.Join(w.Error(), f.Close()); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	js := runSuite(t, "coverage", eval.Options{Data: layout("jsonl", 1), Rules: rules})
	ev := runSuite(t, "coverage", eval.Options{Data: layout("evtx", 0), Rules: rules})
	t.Logf("jsonl: %v", js)
	t.Logf("evtx:  %v", ev)
	if d := cmp.Diff(js, ev); d != "" {
		t.Errorf("coverage differs (-jsonl +evtx):\n%s", d)
	}
	if js["files"] != len(rows) || js["missing_files"] != 0 || js["files_with_alerts"] == 0 {
		t.Errorf("jsonl: files %v missing %v with alerts %v, want %d, 0, >0", js["files"], js["missing_files"], js["files_with_alerts"], len(rows))
	}
}

// coverageRows reads windows-evtx/labels.csv as [evtx_path, jsonl_path,
// techniques] for the files with a JSONL rendering (579 of 593: the
// reference conversion read those completely and failed the 14 others).
func coverageRows(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, k := range []string{"evtx_path", "jsonl_path", "techniques", "events_converted", "records_failed"} {
		if _, ok := col[k]; !ok {
			return nil, fmt.Errorf("%s: no column %s", path, k)
		}
	}
	var rows [][]string
	for _, r := range recs[1:] {
		if r[col["jsonl_path"]] == "" || r[col["events_converted"]] == "0" {
			continue
		}
		if r[col["records_failed"]] != "0" {
			return nil, fmt.Errorf("%s: %s has a rendering and failed records: compare on the converted records only", path, r[col["evtx_path"]])
		}
		rows = append(rows, []string{r[col["evtx_path"]], r[col["jsonl_path"]], r[col["techniques"]]})
	}
	return rows, nil
}

// eventsByRecord decodes path with the format auto-detection: Event fields
// by EventRecordID.
func eventsByRecord(t *testing.T, path string) map[int64]map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := format.NewDecoder(f, "file:"+path, format.DecoderOptions{})
	out := map[int64]map[string]any{}
	for {
		ev := event.New()
		err := dec.Next(ev)
		if errors.Is(err, io.EOF) {
			return out
		}
		var re *format.RecordError
		if errors.As(err, &re) {
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		id, _ := ev.Fields["winlog.record_id"].(int64)
		out[id] = ev.Fields
	}
}

// referenceArtefact names why a JSON rendering's value b differs from the
// .evtx value a when the difference is the reference converter's, not
// Rampart's: "" if it is not one of them.
func referenceArtefact(a, b any) string {
	sa, aok := a.(string)
	sb, bok := b.(string)
	switch {
	case !aok || !bok:
		return ""
	case strings.TrimRight(sa, " \t\n") == sb:
		return "trailing whitespace trimmed" // Rust evtx (regression_data)
	case strings.EqualFold(sa, sb):
		return "case" // one hand-edited regression_data event (Explorer.EXE)
	case strings.Contains(sa, "<string>"):
		return "string array split" // python-evtx
	case strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' {
			return -1
		}
		return r
	}, sa) == sb:
		return "control characters XML cannot carry" // python-evtx
	}
	if looksTime(sa) && looksTime(sb) {
		if _, rounded := timeEqual(sb, sa, cmpOpts{pyTime: true}); rounded {
			return "float64 FILETIME rendering" // python-evtx, emulated exactly
		}
	}
	return ""
}

// TestEventFieldsEqual compares the Event fields the windows format makes of
// every record and of its JSON rendering. After the format's value
// normalisation (hex, GUIDs, line ends) they must be equal except for the
// reference converters' own losses, which are counted.
func TestEventFieldsEqual(t *testing.T) {
	if testing.Short() {
		t.Skip("reads both corpora")
	}
	records := 0
	artefacts := map[string]int{}
	bad := 0
	for _, p := range filePairs(t) {
		got := eventsByRecord(t, p[0])
		for id, want := range eventsByRecord(t, p[1]) {
			records++
			g, ok := got[id]
			if !ok {
				t.Errorf("%s: record %d not read from the .evtx", p[0], id)
				continue
			}
			for k, w := range want {
				if cmp.Equal(g[k], w) {
					continue
				}
				if why := referenceArtefact(g[k], w); why != "" {
					artefacts[why]++
					continue
				}
				if bad++; bad <= 10 {
					t.Errorf("%s record %d %s: .evtx %q, JSON %q", p[0], id, k, g[k], w)
				}
			}
			for k := range g {
				if _, ok := want[k]; !ok && k != "winlog.provider_guid" { // the JSONL layout has no provider GUID
					if bad++; bad <= 10 {
						t.Errorf("%s record %d: %s only on .evtx", p[0], id, k)
					}
				}
			}
		}
	}
	t.Logf("%d records; reference artefacts: %v", records, artefacts)
	if bad > 0 {
		t.Errorf("%d field differences that are not reference artefacts", bad)
	}
}
