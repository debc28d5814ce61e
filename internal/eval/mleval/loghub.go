package mleval

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/rampart-ids/rampart/internal/eval"
	"github.com/rampart-ids/rampart/internal/ml/dataset"
	"github.com/rampart-ids/rampart/internal/ml/drain"
)

func init() {
	eval.Register(eval.Suite{
		Name:    "loghub",
		Summary: "log template mining: grouping and parsing accuracy per system (DIR like loghub-2k)",
		Run:     runLoghub,
	})
}

const maxLogLines = 200000

// LoghubSystem is one system's score.
type LoghubSystem struct {
	Name      string
	Lines     int
	Templates int // mined
	Truth     int // ground-truth templates
	GA, PA    float64
}

// LoghubResult is the loghub suite's result.
type LoghubResult struct {
	Systems      []LoghubSystem
	GAAvg, PAAvg float64
}

// JSON implements eval.Result.
func (r *LoghubResult) JSON() map[string]any {
	sys := map[string]any{}
	for _, s := range r.Systems {
		sys[s.Name] = map[string]any{"ga": s.GA, "pa": s.PA, "lines": s.Lines, "templates": s.Templates, "truth_templates": s.Truth}
	}
	return map[string]any{"systems": sys, "ga_avg": r.GAAvg, "pa_avg": r.PAAvg}
}

// Table implements eval.Result.
func (r *LoghubResult) Table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tlines\ttemplates\ttruth\tGA\tPA\t")
	for _, s := range r.Systems {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.4f\t%.4f\t\n", s.Name, s.Lines, s.Templates, s.Truth, s.GA, s.PA)
	}
	fmt.Fprintf(tw, "average\t\t\t\t%.4f\t%.4f\t\n", r.GAAvg, r.PAAvg)
	return tw.Flush()
}

func runLoghub(ctx context.Context, opts eval.Options) (eval.Result, error) {
	entries, err := os.ReadDir(opts.Data)
	if err != nil {
		return nil, fmt.Errorf("reading loghub dir: %w", err)
	}
	res := &LoghubResult{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		logs, _ := filepath.Glob(filepath.Join(opts.Data, e.Name(), "*_2k.log"))
		for _, logPath := range logs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			truthPath := logPath + "_structured.csv"
			if _, err := os.Stat(truthPath); err != nil {
				continue
			}
			s, err := scoreLoghubSystem(logPath, truthPath)
			if err != nil {
				return nil, err
			}
			if opts.Progress != nil {
				fmt.Fprintf(opts.Progress, "loghub %s: GA %.4f PA %.4f\n", s.Name, s.GA, s.PA)
			}
			res.Systems = append(res.Systems, s)
		}
	}
	if len(res.Systems) == 0 {
		return nil, fmt.Errorf("no <system>/*_2k.log with *_2k.log_structured.csv under %s", opts.Data)
	}
	sort.Slice(res.Systems, func(i, j int) bool { return res.Systems[i].Name < res.Systems[j].Name })
	for _, s := range res.Systems {
		res.GAAvg += s.GA
		res.PAAvg += s.PA
	}
	res.GAAvg /= float64(len(res.Systems))
	res.PAAvg /= float64(len(res.Systems))
	return res, nil
}

// MineLines mines raw log lines with the one global configuration: the
// header layout is learned from the lines themselves, then every content is
// added to a fresh miner. It returns each line's refined template.
func MineLines(lines []string) ([]string, *drain.Miner, error) {
	m, err := drain.New(drain.DefaultConfig())
	if err != nil {
		return nil, nil, err
	}
	h := drain.LearnHeader(lines)
	ids := make([]int, len(lines))
	contents := make([]string, len(lines))
	for i, l := range lines {
		_, contents[i] = h.Split(l)
		mt, err := m.Add(contents[i])
		if err != nil {
			return nil, nil, fmt.Errorf("mining line %d: %w", i+1, err)
		}
		ids[i] = mt.ClusterID
	}
	out := make([]string, len(lines))
	for i := range lines {
		out[i] = m.Refined(ids[i], contents[i])
	}
	return out, m, nil
}

func scoreLoghubSystem(logPath, truthPath string) (LoghubSystem, error) {
	name := strings.TrimSuffix(filepath.Base(logPath), "_2k.log")
	lines, err := dataset.ReadLines(logPath, maxLogLines)
	if err != nil {
		return LoghubSystem{}, err
	}
	truthIDs, truthTpl, err := dataset.ReadLoghubTruth(truthPath, maxLogLines)
	if err != nil {
		return LoghubSystem{}, err
	}
	if len(truthIDs) != len(lines) {
		return LoghubSystem{}, fmt.Errorf("%s: %d log lines but %d ground-truth rows", name, len(lines), len(truthIDs))
	}
	parsed, _, err := MineLines(lines)
	if err != nil {
		return LoghubSystem{}, fmt.Errorf("%s: %w", name, err)
	}
	distinct, mined := map[string]bool{}, map[string]bool{}
	for i, t := range truthIDs {
		distinct[t] = true
		mined[parsed[i]] = true
	}
	return LoghubSystem{
		Name: name, Lines: len(lines), Templates: len(mined), Truth: len(distinct),
		GA: GroupingAccuracy(parsed, truthIDs), PA: ParsingAccuracy(parsed, truthTpl),
	}, nil
}

// GroupingAccuracy is GA (Zhu et al. ICSE-SEIP'19): the share of lines whose
// mined group holds exactly the lines of their ground-truth group.
func GroupingAccuracy[K comparable, T comparable](got []K, truth []T) float64 {
	if len(got) == 0 || len(got) != len(truth) {
		return 0
	}
	byGot := map[K][]int{}
	truthSize := map[T]int{}
	for i, g := range got {
		byGot[g] = append(byGot[g], i)
		truthSize[truth[i]]++
	}
	correct := 0
	for _, idx := range byGot {
		t0 := truth[idx[0]]
		same := true
		for _, i := range idx[1:] {
			if truth[i] != t0 {
				same = false
				break
			}
		}
		if same && truthSize[t0] == len(idx) {
			correct += len(idx)
		}
	}
	return float64(correct) / float64(len(got))
}

// ParsingAccuracy is PA (Loghub-2.0, ISSTA'24): the share of lines whose
// mined template equals the ground-truth template (white space normalised).
func ParsingAccuracy(got, truth []string) float64 {
	if len(got) == 0 || len(got) != len(truth) {
		return 0
	}
	ok := 0
	for i := range got {
		if normTemplate(got[i]) == normTemplate(truth[i]) {
			ok++
		}
	}
	return float64(ok) / float64(len(got))
}

// normTemplate folds white space and runs of adjacent wildcards, as the
// Loghub-2.0 evaluation's template correction does.
func normTemplate(t string) string {
	t = strings.Join(strings.Fields(t), " ")
	for strings.Contains(t, "<*><*>") {
		t = strings.ReplaceAll(t, "<*><*>", "<*>")
	}
	return t
}
