package mleval

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/rampart-ids/rampart/internal/eval"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/zeek"
	mlflow "github.com/rampart-ids/rampart/internal/ml/flow"
)

func init() {
	eval.Register(eval.Suite{
		Name:    "zeek-flows",
		Summary: "unsupervised failed/scan-behaviour flow score (ml/flow) on Zeek conn flows per scenario: ROC AUC Malicious vs Benign, precision in the top 5% (DIR like stratosphere-zeek)",
		Run:     runZeekFlows,
	})
}

const (
	maxFlowsPerFile = 2_000_000
	zeekBudget      = 0.05
)

// ZeekFolder is one scenario's outcome.
type ZeekFolder struct {
	Name              string
	Flows             int
	Malicious, Benign int
	AUC               float64
}

// ZeekFlowsResult is the zeek-flows suite's result.
type ZeekFlowsResult struct {
	Folders           []ZeekFolder
	AUC               float64 // pooled over folders
	PrecisionAtBudget float64
	Budget            float64
	Example           string
}

// JSON implements eval.Result.
func (r *ZeekFlowsResult) JSON() map[string]any {
	folders := map[string]any{}
	for _, f := range r.Folders {
		folders[f.Name] = map[string]any{"flows": f.Flows, "malicious": f.Malicious, "benign": f.Benign, "auc": jsonNum(f.AUC)}
	}
	return map[string]any{"auc": jsonNum(r.AUC), "precision_at_budget": jsonNum(r.PrecisionAtBudget), "budget": r.Budget, "folders": folders, "example": r.Example}
}

// Table implements eval.Result.
func (r *ZeekFlowsResult) Table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "folder\tflows\tmalicious\tbenign\tAUC")
	for _, f := range r.Folders {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.4f\n", f.Name, f.Flows, f.Malicious, f.Benign, f.AUC)
	}
	fmt.Fprintf(tw, "pooled AUC\t%.4f\nprecision in top %.0f%%\t%.4f\n", r.AUC, 100*r.Budget, r.PrecisionAtBudget)
	if r.Example != "" {
		fmt.Fprintf(tw, "example: %s\n", r.Example)
	}
	return tw.Flush()
}

// labeledFlow is one conn record and its label (read only by the scorer).
type labeledFlow struct {
	mlflow.Flow
	label string
}

func runZeekFlows(ctx context.Context, opts eval.Options) (eval.Result, error) {
	cfg := mlflow.DefaultConfig()
	cfg.Seed = uint64(opts.Seed)
	return scoreZeekFlows(ctx, opts, cfg)
}

// scoreZeekFlows runs the suite with a given scorer configuration (the
// ablation test drops members through cfg.Drop).
func scoreZeekFlows(ctx context.Context, opts eval.Options, cfg mlflow.Config) (*ZeekFlowsResult, error) {
	files, err := findLabeledConn(opts.Data)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no labeled conn logs (*conn*.labeled or *labeled*conn*) under %s", opts.Data)
	}
	byFolder := map[string][]string{}
	for _, f := range files {
		rel, _ := filepath.Rel(opts.Data, f)
		folder := strings.Split(filepath.ToSlash(rel), "/")[0]
		byFolder[folder] = append(byFolder[folder], f)
	}
	res := &ZeekFlowsResult{Budget: zeekBudget}
	var allScores []float64
	var allPos []bool
	exampleScore := 0.0
	for _, folder := range sortedKeys(byFolder) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var flows []labeledFlow
		for _, f := range byFolder[folder] {
			fl, err := readConnFlows(f)
			if err != nil {
				return nil, err
			}
			flows = append(flows, fl...)
		}
		in := make([]mlflow.Flow, len(flows))
		for i := range flows {
			in[i] = flows[i].Flow
		}
		scored, err := mlflow.ScoreFlows(cfg, in)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", folder, err)
		}
		zf := ZeekFolder{Name: folder, Flows: len(flows)}
		var scores []float64
		var pos []bool
		for i, fl := range flows {
			isMal := strings.HasPrefix(fl.label, "Malicious")
			if !isMal && !strings.HasPrefix(fl.label, "Benign") {
				continue // Background and unlabeled flows are scored by nobody
			}
			s := scored[i]
			scores = append(scores, s.Score)
			pos = append(pos, isMal)
			if isMal {
				zf.Malicious++
			} else {
				zf.Benign++
			}
			if isMal && (res.Example == "" || s.Score > exampleScore) {
				res.Example, exampleScore = folder+": "+s.Explanation.Sentence, s.Score
			}
		}
		zf.AUC = AUC(scores, pos)
		res.Folders = append(res.Folders, zf)
		allScores = append(allScores, scores...)
		allPos = append(allPos, pos...)
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "zeek-flows %s: %d flows, AUC %.4f\n", folder, len(flows), zf.AUC)
		}
	}
	res.AUC = AUC(allScores, allPos)
	res.PrecisionAtBudget = precisionAtTop(allScores, allPos, zeekBudget)
	return res, nil
}

// precisionAtTop is the share of positives among the top frac by score
// (ties broken by index, so the result is deterministic).
func precisionAtTop(scores []float64, pos []bool, frac float64) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	k := int(math.Ceil(frac * float64(len(idx))))
	if k == 0 {
		return math.NaN()
	}
	hit := 0
	for _, i := range idx[:k] {
		if pos[i] {
			hit++
		}
	}
	return float64(hit) / float64(k)
}

func findLabeledConn(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n := d.Name()
		if !d.IsDir() && strings.Contains(n, "conn") && (strings.HasSuffix(n, ".labeled") || strings.HasPrefix(n, "labeled")) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking %s: %w", dir, err)
	}
	sort.Strings(out)
	return out, nil
}

// readConnFlows parses a Zeek TSV conn log with the zeek format parser.
func readConnFlows(path string) ([]labeledFlow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening conn log: %w", err)
	}
	defer f.Close()
	p := zeek.Format{}.NewParser(format.Options{})
	ev := event.New()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []labeledFlow
	for line := 1; sc.Scan(); line++ {
		ev.Reset()
		err := p.Parse(sc.Bytes(), ev)
		if errors.Is(err, format.ErrNoEvent) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if len(out) >= maxFlowsPerFile {
			return nil, fmt.Errorf("%s: more than %d flows", path, maxFlowsPerFile)
		}
		str := func(k string) string {
			v, _ := ev.Get("zeek." + k)
			return event.ValueString(v)
		}
		num := func(k string) float64 {
			x, err := strconv.ParseFloat(str(k), 64)
			if err != nil || x < 0 || math.IsInf(x, 0) {
				return 0 // unset ("-") counts as none
			}
			return x
		}
		port := num("id.resp_p")
		if port > 65535 {
			return nil, fmt.Errorf("%s:%d: responder port %v out of range", path, line, port)
		}
		fl := labeledFlow{Flow: mlflow.Flow{
			Src: str("id.orig_h"), Dst: str("id.resp_h"), DstPort: int(port), Proto: str("proto"),
			State: str("conn_state"), History: str("history"), Duration: num("duration"),
			OrigBytes: num("orig_bytes"), RespBytes: num("resp_bytes"), OrigPkts: num("orig_pkts"), RespPkts: num("resp_pkts"),
		}, label: str("label")}
		if fl.Src == "" || fl.Dst == "" {
			return nil, fmt.Errorf("%s:%d: conn record without id.orig_h or id.resp_h", path, line)
		}
		out = append(out, fl)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
}

// jsonNum maps NaN (an AUC without both classes) to null: JSON has no NaN.
func jsonNum(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}
