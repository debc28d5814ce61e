package sigma

import (
	"bufio"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// Differential tests: the optimized matcher (routing, prefilter, literal
// shortcuts, keyword haystack) must give exactly the matches of the slow
// reference path (evalCtx.slow) and of the golden file recorded before the
// optimizations, on every windows-evtx JSONL event and every regression event.

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/differential.golden.gz")

// namedEvent is an event with a stable name: data-relative file and record number.
type namedEvent struct {
	name string
	ev   *event.Event
}

// loadNamed decodes every file under dir whose name ends in suffix.
func loadNamed(tb testing.TB, root, dir, suffix string) []namedEvent {
	tb.Helper()
	var out []namedEvent
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, suffix) {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		dec := format.NewDecoder(f, "file:"+p, format.DecoderOptions{})
		for n := 0; ; n++ {
			ev := event.New()
			err := dec.Next(ev)
			if errors.Is(err, io.EOF) {
				return nil
			}
			var re *format.RecordError
			if errors.As(err, &re) {
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			out = append(out, namedEvent{fmt.Sprintf("%s#%d", rel, n), ev})
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// allRulesDetector loads every SigmaHQ rule folder with every status (as sigma-regression does).
func allRulesDetector(tb testing.TB) *Detector {
	root := testutil.SharedData(tb, "sigma")
	var paths []string
	for _, d := range []string{"rules", "rules-emerging-threats", "rules-threat-hunting", "rules-placeholder"} {
		paths = append(paths, filepath.Join(root, d))
	}
	d, err := New(Options{Paths: paths, Statuses: []string{"stable", "test", "experimental", "deprecated", "unsupported", ""}})
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// matchLine is "name<TAB>sorted rule ids" ("" when nothing matches).
func matchLine(rs *ruleSet, c *evalCtx, ne namedEvent) string {
	var ids []string
	rs.runCtx(c, ne.ev, func(_ *evalCtx, r *crule) { ids = append(ids, ruleID(r.meta)) })
	if len(ids) == 0 {
		return ""
	}
	slices.Sort(ids)
	return ne.name + "\t" + strings.Join(ids, ",")
}

func TestDifferentialCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: whole windows-evtx corpus")
	}
	root := testutil.SharedDataRoot()
	evs := loadNamed(t, root, testutil.SharedData(t, "windows-evtx/jsonl"), ".jsonl")
	evs = append(evs, loadNamed(t, root, testutil.SharedData(t, "sigma/regression_data"), ".json")...)
	d := allRulesDetector(t)
	rs := d.set.Load()
	fast, slow := newEvalCtx(rs), newEvalCtx(rs)
	slow.slow = true
	var got []string
	mismatches := 0
	for _, ne := range evs {
		f, s := matchLine(rs, fast, ne), matchLine(rs, slow, ne)
		if f != s {
			if mismatches++; mismatches <= 10 {
				t.Errorf("%s: optimized and reference differ:\n fast %q\n slow %q", ne.name, f, s)
			}
		}
		if s != "" {
			got = append(got, s)
		}
	}
	if mismatches > 0 {
		t.Errorf("%d of %d events differ between optimized and reference paths", mismatches, len(evs))
	}
	t.Logf("%d events, %d with matches, %d rules", len(evs), len(got), len(rs.rules))
	golden := filepath.Join("testdata", "differential.golden.gz")
	if *updateGolden {
		writeGolden(t, golden, got)
		return
	}
	want := readGolden(t, golden)
	if len(want) != len(got) {
		t.Errorf("golden has %d matching events, got %d", len(want), len(got))
	}
	n := 0
	for i := 0; i < max(len(want), len(got)); i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			if n++; n <= 10 {
				t.Errorf("golden line %d:\n want %q\n got  %q", i+1, w, g)
			}
		}
	}
}

func writeGolden(t *testing.T, path string, lines []string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	for _, l := range lines {
		fmt.Fprintln(zw, l)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readGolden(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run with -update-golden to record)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
