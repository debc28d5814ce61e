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
	"github.com/rampart-ids/rampart/internal/ml/iforest"
)

func init() {
	eval.Register(eval.Suite{
		Name:    "zeek-flows",
		Summary: "unsupervised isolation forest on Zeek conn flows per scenario: ROC AUC Malicious vs Benign, precision in the top 5% (DIR like stratosphere-zeek)",
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

// flow is one conn record: its features' raw inputs and its label (used
// only by the scorer).
type flow struct {
	origH, respH, proto, state, service string
	respP                               float64
	num                                 []float64 // duration, bytes, packets…
	localOrig, localResp                float64
	label                               string
}

var flowNumeric = []string{"duration", "orig_bytes", "resp_bytes", "missed_bytes", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes"}

// Zeek's documented conn_state values.
var connStates = []string{"S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH"}

func runZeekFlows(ctx context.Context, opts eval.Options) (eval.Result, error) {
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
	for _, folder := range sortedKeys(byFolder) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var flows []flow
		for _, f := range byFolder[folder] {
			fl, err := readConnFlows(f)
			if err != nil {
				return nil, err
			}
			flows = append(flows, fl...)
		}
		names, rows := flowFeatures(flows)
		cfg := iforest.DefaultConfig()
		cfg.Seed = uint64(opts.Seed)
		cfg.TargetRate = zeekBudget
		forest, err := iforest.Fit(cfg, names, rows)
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
			s, err := forest.Score(rows[i])
			if err != nil {
				return nil, err
			}
			scores = append(scores, s.Score)
			pos = append(pos, isMal)
			if isMal {
				zf.Malicious++
			} else {
				zf.Benign++
			}
			if res.Example == "" && isMal && s.Anomalous {
				res.Example = folder + ": " + s.Explanation.Sentence
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
func readConnFlows(path string) ([]flow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening conn log: %w", err)
	}
	defer f.Close()
	p := zeek.Format{}.NewParser(format.Options{})
	ev := event.New()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []flow
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
		fl := flow{origH: str("id.orig_h"), respH: str("id.resp_h"), proto: str("proto"), state: str("conn_state"),
			service: str("service"), respP: num("id.resp_p"), label: str("label")}
		for _, k := range flowNumeric {
			fl.num = append(fl.num, num(k))
		}
		if str("local_orig") == "true" || str("local_orig") == "T" {
			fl.localOrig = 1
		}
		if str("local_resp") == "true" || str("local_resp") == "T" {
			fl.localResp = 1
		}
		out = append(out, fl)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
}

// flowFeatures builds the unsupervised feature matrix of one folder: each
// flow's own numbers (log1p), its protocol and state, and how its hosts and
// port behave across the folder (fan-out of the source, fan-in of the
// destination, rarity of the port). Labels are not read.
func flowFeatures(flows []flow) ([]string, [][]float64) {
	origFlows, respFlows, portFlows := map[string]int{}, map[string]int{}, map[float64]int{}
	origDst, origPorts, respSrc := map[string]map[string]bool{}, map[string]map[float64]bool{}, map[string]map[string]bool{}
	for _, f := range flows {
		origFlows[f.origH]++
		respFlows[f.respH]++
		portFlows[f.respP]++
		if origDst[f.origH] == nil {
			origDst[f.origH], origPorts[f.origH] = map[string]bool{}, map[float64]bool{}
		}
		origDst[f.origH][f.respH] = true
		origPorts[f.origH][f.respP] = true
		if respSrc[f.respH] == nil {
			respSrc[f.respH] = map[string]bool{}
		}
		respSrc[f.respH][f.origH] = true
	}
	names := append([]string(nil), flowNumeric...)
	names = append(names, "local_orig", "local_resp", "resp_port_rarity", "src_flows", "src_distinct_dst", "src_distinct_ports", "dst_flows", "dst_distinct_src", "service_known")
	for _, p := range []string{"tcp", "udp", "icmp"} {
		names = append(names, "proto="+p)
	}
	for _, s := range connStates {
		names = append(names, "conn_state="+s)
	}
	n := float64(len(flows))
	rows := make([][]float64, len(flows))
	for i, f := range flows {
		r := make([]float64, 0, len(names))
		for _, v := range f.num {
			r = append(r, math.Log1p(v))
		}
		svc := 0.0
		if f.service != "" {
			svc = 1
		}
		r = append(r, f.localOrig, f.localResp,
			-math.Log(float64(portFlows[f.respP])/n),
			math.Log1p(float64(origFlows[f.origH])),
			math.Log1p(float64(len(origDst[f.origH]))),
			math.Log1p(float64(len(origPorts[f.origH]))),
			math.Log1p(float64(respFlows[f.respH])),
			math.Log1p(float64(len(respSrc[f.respH]))),
			svc)
		for _, p := range []string{"tcp", "udp", "icmp"} {
			r = append(r, b2f(f.proto == p))
		}
		for _, s := range connStates {
			r = append(r, b2f(f.state == s))
		}
		rows[i] = r
	}
	return names, rows
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// jsonNum maps NaN (an AUC without both classes) to null: JSON has no NaN.
func jsonNum(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}
