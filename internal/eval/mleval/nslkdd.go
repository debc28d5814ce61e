package mleval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/rampart-ids/rampart/internal/eval"
	"github.com/rampart-ids/rampart/internal/ml"
	"github.com/rampart-ids/rampart/internal/ml/dataset"
	"github.com/rampart-ids/rampart/internal/ml/model"
)

func init() {
	eval.Register(eval.Suite{
		Name:    "nsl-kdd",
		Summary: "connection records, normal vs attack: isolation forest AUC (trained on normal only), logistic regression accuracy and F1 (DIR like nsl-kdd)",
		Run:     runNSLKDD,
	})
}

const maxKDDRows = 5_000_000

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
	train, err := dataset.ReadKDD(filepath.Join(opts.Data, "KDDTrain+_20Percent.txt"), maxKDDRows)
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
		var tr, te []dataset.KDDRow
		for i, r := range train {
			if inTest[i] {
				te = append(te, r)
			} else {
				tr = append(tr, r)
			}
		}
		m, err := dataset.FitKDD(tr, opts.Seed+int64(f))
		if err != nil {
			return nil, err
		}
		p, auc, _, err := evaluateKDD(m, te)
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
	final, err := dataset.FitKDD(train, opts.Seed)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"KDDTest+.txt", "KDDTest-21.txt"} {
		path := filepath.Join(opts.Data, name)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		test, err := dataset.ReadKDD(path, maxKDDRows)
		if err != nil {
			return nil, err
		}
		p, auc, ex, err := evaluateKDD(final, test)
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
		_, _, res.Example, _ = evaluateKDD(final, train[:min(len(train), 2000)])
	}
	art, err := kddArtifact(final, filepath.Join(opts.Data, "KDDTrain+_20Percent.txt"), train, opts.Seed, res.CV)
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
type KDDParams = dataset.KDDParams

func kddArtifact(m *dataset.KDDModel, path string, rows []dataset.KDDRow, seed int64, cv KDDScore) (*model.Artifact, error) {
	fileHash, err := fileSHA256(path)
	if err != nil {
		return nil, err
	}
	contentHash, counts := dataset.KDDLineage(rows)
	return model.New(model.Body{
		Kind: "nsl-kdd", Name: "nsl-kdd-connection", Version: "1", Features: m.Names,
		Lineage: model.Lineage{
			Sources:     []model.Source{{Name: filepath.Base(path), SHA256: fileHash, Rows: len(rows)}},
			ClassCounts: counts, ContentHash: contentHash, Seed: seed,
			// The forest learns from normal rows only: attacks are excluded from it.
			Exclusions: []model.Exclusion{{Reason: "attack rows excluded from the isolation forest", Rows: counts["attack"]}},
		},
		Metrics:    map[string]float64{"cv_auc": cv.AUC, "cv_accuracy": cv.Accuracy, "cv_f1": cv.F1},
		Thresholds: map[string]float64{"lr": 0.5, "forest": m.Forest.Threshold, "forest_target_rate": m.Forest.Cfg.TargetRate},
	}, m.Params())
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

// evaluate returns the classifier's predictions, the forest's ROC AUC and
// the explanation of the first record the forest flags.
func evaluateKDD(m *dataset.KDDModel, rows []dataset.KDDRow) ([]bool, float64, string, error) {
	preds := make([]bool, len(rows))
	scores := make([]float64, len(rows))
	labels := make([]bool, len(rows))
	example := ""
	for i, r := range rows {
		v, err := m.Raw(r)
		if err != nil {
			return nil, 0, "", fmt.Errorf("test row %d: %w", i+1, err)
		}
		x := m.Sparse(v)
		preds[i] = m.LR.Score(x) >= 0.5
		s, err := m.Forest.Score(v)
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
			lr := m.LR.Explain(x, m.Names, nil, 3)
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
