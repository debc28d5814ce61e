package mleval

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	"github.com/rampart-ids/rampart/internal/ml"
	"github.com/rampart-ids/rampart/internal/ml/iforest"
	"github.com/rampart-ids/rampart/internal/ml/linear"
	"github.com/rampart-ids/rampart/internal/ml/model"
)

func init() {
	eval.Register(eval.Suite{
		Name:    "nsl-kdd",
		Summary: "connection records, normal vs attack: isolation forest AUC (trained on normal only), logistic regression accuracy and F1 (DIR like nsl-kdd)",
		Run:     runNSLKDD,
	})
}

const (
	kddFeatures = 41
	maxKDDRows  = 5_000_000
)

// kddCategorical are the symbolic columns (protocol_type, service, flag).
var kddCategorical = map[int]bool{1: true, 2: true, 3: true}

type kddRow struct {
	F      []string // the 41 feature columns as text
	Label  string
	Attack bool
}

// KDDScore is one evaluation's numbers.
type KDDScore struct {
	N                 int
	AUC               float64 // isolation forest, trained on normal rows only
	Accuracy, F1      float64 // logistic regression
	Precision, Recall float64
}

func (s KDDScore) json() map[string]any {
	return map[string]any{"n": s.N, "auc": jsonNum(s.AUC), "accuracy": s.Accuracy, "f1": s.F1, "precision": s.Precision, "recall": s.Recall}
}

// NSLKDDResult is the nsl-kdd suite's result.
type NSLKDDResult struct {
	CV      KDDScore
	Tests   map[string]KDDScore
	Main    string // "cv" or the test file the top-level keys report
	Example string // explanation of one flagged test record
	// ModelHash and ModelBytes describe the artifact of the model trained
	// on the whole training file.
	ModelHash  string
	ModelBytes int
}

// JSON implements eval.Result.
func (r *NSLKDDResult) JSON() map[string]any {
	main := r.CV
	if s, ok := r.Tests[r.Main]; ok {
		main = s
	}
	tests := map[string]any{}
	for k, v := range r.Tests {
		tests[k] = v.json()
	}
	return map[string]any{"auc": jsonNum(main.AUC), "accuracy": main.Accuracy, "f1": main.F1, "source": r.Main, "cv": r.CV.json(), "tests": tests, "example": r.Example,
		"model": map[string]any{"hash": r.ModelHash, "bytes": r.ModelBytes}}
}

// Table implements eval.Result.
func (r *NSLKDDResult) Table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "evaluation\tn\tiforest AUC\tLR accuracy\tLR F1\tprecision\trecall")
	row := func(name string, s KDDScore) {
		fmt.Fprintf(tw, "%s\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\n", name, s.N, s.AUC, s.Accuracy, s.F1, s.Precision, s.Recall)
	}
	row("5-fold cv (KDDTrain+_20Percent)", r.CV)
	for _, k := range sortedKeys(r.Tests) {
		row(k, r.Tests[k])
	}
	if r.Example != "" {
		fmt.Fprintf(tw, "example: %s\n", r.Example)
	}
	fmt.Fprintf(tw, "model artifact: %s (%d bytes)\n", r.ModelHash, r.ModelBytes)
	return tw.Flush()
}

func runNSLKDD(ctx context.Context, opts eval.Options) (eval.Result, error) {
	train, err := readKDD(filepath.Join(opts.Data, "KDDTrain+_20Percent.txt"))
	if err != nil {
		return nil, err
	}
	res := &NSLKDDResult{Tests: map[string]KDDScore{}, Main: "cv"}
	// Cross-validation.
	var (
		preds  []bool
		truth  []bool
		aucSum float64
	)
	folds := kFold(len(train), 5, opts.Seed)
	for f, test := range folds {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		inTest := make([]bool, len(train))
		for _, i := range test {
			inTest[i] = true
		}
		var tr, te []kddRow
		for i, r := range train {
			if inTest[i] {
				te = append(te, r)
			} else {
				tr = append(tr, r)
			}
		}
		m, err := fitKDD(tr, opts.Seed+int64(f))
		if err != nil {
			return nil, err
		}
		p, auc, _, err := m.evaluate(te)
		if err != nil {
			return nil, err
		}
		aucSum += auc
		preds = append(preds, p...)
		for _, r := range te {
			truth = append(truth, r.Attack)
		}
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "nsl-kdd: fold %d/5 AUC %.4f\n", f+1, auc)
		}
	}
	res.CV = classScores(preds, truth)
	res.CV.AUC = aucSum / float64(len(folds))
	// The model trained on the whole training file: scored on the official
	// test files when present, and written as a hashed artifact with its
	// lineage (what `rampart model train` would write).
	final, err := fitKDD(train, opts.Seed)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"KDDTest+.txt", "KDDTest-21.txt"} {
		path := filepath.Join(opts.Data, name)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		test, err := readKDD(path)
		if err != nil {
			return nil, err
		}
		p, auc, ex, err := final.evaluate(test)
		if err != nil {
			return nil, err
		}
		truth := make([]bool, len(test))
		for i, r := range test {
			truth[i] = r.Attack
		}
		s := classScores(p, truth)
		s.AUC = auc
		res.Tests[name] = s
		if name == "KDDTest+.txt" {
			res.Main = name
			res.Example = ex
		}
	}
	if res.Example == "" {
		_, _, res.Example, _ = final.evaluate(train[:min(len(train), 2000)])
	}
	art, err := final.artifact(filepath.Join(opts.Data, "KDDTrain+_20Percent.txt"), train, opts.Seed, res.CV)
	if err != nil {
		return nil, err
	}
	enc, err := art.Encode()
	if err != nil {
		return nil, err
	}
	res.ModelHash, res.ModelBytes = art.Hash, len(enc)
	return res, nil
}

// KDDParams is the serialised nsl-kdd model: featuriser, classifier and forest.
type KDDParams struct {
	Categories map[string]map[string]int `json:"categories"` // column → value → slot
	Mean       []float64                 `json:"mean"`       // of log1p(numeric column)
	SD         []float64                 `json:"sd"`
	Features   []string                  `json:"features"`
	LR         *linear.Model             `json:"lr"`
	Forest     *iforest.Forest           `json:"forest"`
}

func (m *kddModel) artifact(path string, rows []kddRow, seed int64, cv KDDScore) (*model.Artifact, error) {
	fileHash, err := fileSHA256(path)
	if err != nil {
		return nil, err
	}
	ch := model.NewContentHasher()
	counts := map[string]int{}
	for _, r := range rows {
		ch.Add([]byte(strings.Join(r.F, ",") + "," + r.Label))
		if r.Attack {
			counts["attack"]++
		} else {
			counts["normal"]++
		}
	}
	cats := map[string]map[string]int{}
	for j, vals := range m.cats {
		cats[kddColumns[j]] = vals
	}
	return model.New(model.Body{
		Kind: "nsl-kdd", Name: "nsl-kdd-connection", Version: "1", Features: m.names,
		Lineage: model.Lineage{
			Sources:     []model.Source{{Name: filepath.Base(path), SHA256: fileHash, Rows: len(rows)}},
			ClassCounts: counts, ContentHash: ch.Sum(), Seed: seed,
			// The forest learns from normal rows only: attacks are excluded from it.
			Exclusions: []model.Exclusion{{Reason: "attack rows excluded from the isolation forest", Rows: counts["attack"]}},
		},
		Metrics:    map[string]float64{"cv_auc": cv.AUC, "cv_accuracy": cv.Accuracy, "cv_f1": cv.F1},
		Thresholds: map[string]float64{"lr": 0.5, "forest": m.forest.Threshold, "forest_target_rate": m.forest.Cfg.TargetRate},
	}, KDDParams{Categories: cats, Mean: m.mean, SD: m.sd, Features: m.names, LR: m.lr, Forest: m.forest})
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func classScores(pred, truth []bool) KDDScore {
	var tp, fp, fn, tn int
	for i := range pred {
		switch {
		case pred[i] && truth[i]:
			tp++
		case pred[i]:
			fp++
		case truth[i]:
			fn++
		default:
			tn++
		}
	}
	s := KDDScore{N: len(pred)}
	if s.N > 0 {
		s.Accuracy = float64(tp+tn) / float64(s.N)
	}
	s.Precision, s.Recall, s.F1 = prf(tp, fp, fn)
	return s
}

// kddModel holds the featuriser (fitted on training rows) and both models.
type kddModel struct {
	cats     map[int]map[string]int // categorical column → value → one-hot slot
	mean, sd []float64              // per numeric column, of log1p(value)
	names    []string               // dense feature names
	lr       *linear.Model
	forest   *iforest.Forest
}

func fitKDD(rows []kddRow, seed int64) (*kddModel, error) {
	m := &kddModel{cats: map[int]map[string]int{}}
	dim := 0
	for j := 0; j < kddFeatures; j++ {
		if kddCategorical[j] {
			continue
		}
		m.names = append(m.names, kddColumns[j])
		dim++
	}
	for j := range kddCategorical {
		m.cats[j] = map[string]int{}
	}
	// One-hot slots in first-seen order of sorted values (deterministic).
	for _, j := range []int{1, 2, 3} {
		vals := map[string]bool{}
		for _, r := range rows {
			vals[r.F[j]] = true
		}
		keys := make([]string, 0, len(vals))
		for v := range vals {
			keys = append(keys, v)
		}
		sort.Strings(keys)
		for _, v := range keys {
			m.cats[j][v] = dim
			m.names = append(m.names, kddColumns[j]+"="+v)
			dim++
		}
	}
	nNum := 0
	for j := 0; j < kddFeatures; j++ {
		if !kddCategorical[j] {
			nNum++
		}
	}
	m.mean, m.sd = make([]float64, nNum), make([]float64, nNum)
	dense := make([][]float64, len(rows))
	for i, r := range rows {
		v, err := m.raw(r)
		if err != nil {
			return nil, fmt.Errorf("training row %d: %w", i+1, err)
		}
		dense[i] = v
	}
	for k := 0; k < nNum; k++ {
		s, s2 := 0.0, 0.0
		for _, v := range dense {
			s += v[k]
			s2 += v[k] * v[k]
		}
		n := float64(len(dense))
		m.mean[k] = s / n
		m.sd[k] = math.Sqrt(math.Max(s2/n-m.mean[k]*m.mean[k], 0))
		if m.sd[k] == 0 {
			m.sd[k] = 1
		}
	}
	xs := make([]linear.Sparse, len(rows))
	ys := make([]float64, len(rows))
	var normal [][]float64
	for i, r := range rows {
		xs[i] = m.sparse(dense[i])
		if r.Attack {
			ys[i] = 1
		} else {
			normal = append(normal, dense[i])
		}
	}
	lr, err := linear.Train(xs, ys, len(m.names), linear.Options{L2: 1e-5, MaxIter: 150, PosWeight: 1})
	if err != nil {
		return nil, fmt.Errorf("training nsl-kdd classifier: %w", err)
	}
	m.lr = lr
	cfg := iforest.DefaultConfig()
	cfg.Seed = uint64(seed)
	m.forest, err = iforest.Fit(cfg, m.names, normal)
	if err != nil {
		return nil, fmt.Errorf("training nsl-kdd isolation forest: %w", err)
	}
	return m, nil
}

// raw is the dense vector: log1p of numeric columns, then one-hot slots.
// An unseen category sets no slot (it is out of the training support).
func (m *kddModel) raw(r kddRow) ([]float64, error) {
	v := make([]float64, len(m.names))
	k := 0
	for j := 0; j < kddFeatures; j++ {
		if kddCategorical[j] {
			if slot, ok := m.cats[j][r.F[j]]; ok {
				v[slot] = 1
			}
			continue
		}
		x, err := strconv.ParseFloat(r.F[j], 64)
		if err != nil || x < 0 || math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("column %s: bad value %q", kddColumns[j], r.F[j])
		}
		v[k] = math.Log1p(x)
		k++
	}
	return v, nil
}

// sparse standardises the numeric part for the linear model.
func (m *kddModel) sparse(v []float64) linear.Sparse {
	var x linear.Sparse
	for j, val := range v {
		if j < len(m.mean) {
			val = (val - m.mean[j]) / m.sd[j]
		}
		if val != 0 {
			x.Idx = append(x.Idx, int32(j))
			x.Val = append(x.Val, val)
		}
	}
	return x
}

// evaluate returns the classifier's predictions, the forest's ROC AUC and
// the explanation of the first record the forest flags.
func (m *kddModel) evaluate(rows []kddRow) ([]bool, float64, string, error) {
	preds := make([]bool, len(rows))
	scores := make([]float64, len(rows))
	labels := make([]bool, len(rows))
	example := ""
	for i, r := range rows {
		v, err := m.raw(r)
		if err != nil {
			return nil, 0, "", fmt.Errorf("test row %d: %w", i+1, err)
		}
		x := m.sparse(v)
		preds[i] = m.lr.Score(x) >= 0.5
		s, err := m.forest.Score(v)
		if err != nil {
			return nil, 0, "", err
		}
		scores[i], labels[i] = s.Score, r.Attack
		if example == "" && s.Anomalous && r.Attack {
			// Show numeric values on their own scale, not log1p.
			top := append([]ml.Contribution(nil), s.Explanation.Top...)
			for k := range top {
				if !strings.Contains(top[k].Feature, "=") {
					top[k].Value, top[k].Baseline = math.Expm1(top[k].Value), math.Expm1(top[k].Baseline)
				}
			}
			// Standardised units (z-scores) for the classifier's numbers.
			lr := m.lr.Explain(x, m.names, nil, 3)
			example = ml.Sentence("isolation forest", s.Score, top) + "; " + lr.Sentence + " (z-scores) (label " + r.Label + ")"
		}
	}
	return preds, AUC(scores, labels), example, nil
}

// AUC is the ROC AUC of scores for positives (Mann–Whitney, ties count half).
func AUC(scores []float64, pos []bool) float64 {
	type sp struct {
		s float64
		p bool
	}
	xs := make([]sp, len(scores))
	var np, nn float64
	for i := range scores {
		xs[i] = sp{scores[i], pos[i]}
		if pos[i] {
			np++
		} else {
			nn++
		}
	}
	if np == 0 || nn == 0 {
		return math.NaN()
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i].s < xs[j].s })
	rankSum := 0.0
	for i := 0; i < len(xs); {
		j := i
		for j < len(xs) && xs[j].s == xs[i].s {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks are 1-based: (i+1 + j)/2
		for k := i; k < j; k++ {
			if xs[k].p {
				rankSum += avg
			}
		}
		i = j
	}
	return (rankSum - np*(np+1)/2) / (np * nn)
}

var kddColumns = []string{"duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land",
	"wrong_fragment", "urgent", "hot", "num_failed_logins", "logged_in", "num_compromised", "root_shell",
	"su_attempted", "num_root", "num_file_creations", "num_shells", "num_access_files", "num_outbound_cmds",
	"is_host_login", "is_guest_login", "count", "srv_count", "serror_rate", "srv_serror_rate", "rerror_rate",
	"srv_rerror_rate", "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate", "dst_host_count",
	"dst_host_srv_count", "dst_host_same_srv_rate", "dst_host_diff_srv_rate", "dst_host_same_src_port_rate",
	"dst_host_srv_diff_host_rate", "dst_host_serror_rate", "dst_host_srv_serror_rate", "dst_host_rerror_rate",
	"dst_host_srv_rerror_rate"}

// readKDD reads NSL-KDD CSV rows: 41 features, label, optional difficulty.
func readKDD(path string) ([]kddRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening nsl-kdd file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []kddRow
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		cols := strings.Split(text, ",")
		if len(cols) != kddFeatures+1 && len(cols) != kddFeatures+2 {
			return nil, fmt.Errorf("%s:%d: %d columns, want %d or %d", path, line, len(cols), kddFeatures+1, kddFeatures+2)
		}
		if len(out) >= maxKDDRows {
			return nil, fmt.Errorf("%s: more than %d rows", path, maxKDDRows)
		}
		label := strings.TrimSuffix(cols[kddFeatures], ".")
		out = append(out, kddRow{F: cols[:kddFeatures], Label: label, Attack: label != "normal"})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	return out, nil
}
