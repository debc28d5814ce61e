package mleval

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/rampart-ids/rampart/internal/eval"
	"github.com/rampart-ids/rampart/internal/ml/dataset"
	"github.com/rampart-ids/rampart/internal/ml/payload"
)

func init() {
	eval.Register(eval.Suite{
		Name:    "http-params",
		Summary: "web payload classifier (logistic regression on n-grams): precision, recall, F1 per attack type (DIR like http-params)",
		Run:     runHTTPParams,
	})
}

const maxPayloadRows = 2_000_000

// TypeScore is one attack type's (or benign's) outcome.
type TypeScore struct {
	N, Flagged int
	Recall     float64 // flagged share; for "norm" it is the false-positive rate
}

// HTTPParamsResult is the http-params suite's result.
type HTTPParamsResult struct {
	Mode                  string // "test" or "5-fold cv"
	N                     int
	TP, FP, FN, TN        int
	Precision, Recall, F1 float64
	Types                 map[string]TypeScore
	Examples              []string // explanation sentences of a few flagged payloads
}

// JSON implements eval.Result.
func (r *HTTPParamsResult) JSON() map[string]any {
	types := map[string]any{}
	for t, s := range r.Types {
		types[t] = map[string]any{"n": s.N, "flagged": s.Flagged, "recall": s.Recall}
	}
	return map[string]any{
		"precision": r.Precision, "recall": r.Recall, "f1": r.F1, "mode": r.Mode, "n": r.N,
		"tp": r.TP, "fp": r.FP, "fn": r.FN, "tn": r.TN, "attack_types": types, "examples": r.Examples,
	}
}

// Table implements eval.Result.
func (r *HTTPParamsResult) Table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "mode: %s, %d payloads\n", r.Mode, r.N)
	fmt.Fprintln(tw, "type\tn\tflagged\trate")
	for _, t := range sortedKeys(r.Types) {
		s := r.Types[t]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.4f\n", t, s.N, s.Flagged, s.Recall)
	}
	fmt.Fprintf(tw, "precision\t%.4f\nrecall\t%.4f\nf1\t%.4f\n", r.Precision, r.Recall, r.F1)
	for _, e := range r.Examples {
		fmt.Fprintf(tw, "example: %s\n", e)
	}
	return tw.Flush()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func runHTTPParams(ctx context.Context, opts eval.Options) (eval.Result, error) {
	train, err := dataset.ReadPayloads(filepath.Join(opts.Data, "payload_train.csv"), maxPayloadRows)
	if err != nil {
		return nil, err
	}
	res := &HTTPParamsResult{Types: map[string]TypeScore{}}
	cfg := payload.DefaultConfig()
	score := func(c *payload.Classifier, rows []dataset.PayloadRow) {
		for _, r := range rows {
			s := c.Score(r.Payload)
			ts := res.Types[r.Type]
			ts.N++
			if s.Attack {
				ts.Flagged++
			}
			res.Types[r.Type] = ts
			switch {
			case s.Attack && r.Attack:
				res.TP++
				if len(res.Examples) < 3 && len(r.Payload) < 80 {
					res.Examples = append(res.Examples, s.Explanation.Sentence)
				}
			case s.Attack:
				res.FP++
			case r.Attack:
				res.FN++
			default:
				res.TN++
			}
		}
	}
	testPath := filepath.Join(opts.Data, "payload_test.csv")
	if _, err := os.Stat(testPath); err == nil {
		test, err := dataset.ReadPayloads(testPath, maxPayloadRows)
		if err != nil {
			return nil, err
		}
		res.Mode = "test"
		c, err := trainPayloads(cfg, train)
		if err != nil {
			return nil, err
		}
		score(c, test)
	} else {
		res.Mode = "5-fold cv"
		folds := kFold(len(train), 5, opts.Seed)
		for f, test := range folds {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			inTest := map[int]bool{}
			for _, i := range test {
				inTest[i] = true
			}
			var tr, te []dataset.PayloadRow
			for i, r := range train {
				if inTest[i] {
					te = append(te, r)
				} else {
					tr = append(tr, r)
				}
			}
			c, err := trainPayloads(cfg, tr)
			if err != nil {
				return nil, err
			}
			score(c, te)
			if opts.Progress != nil {
				fmt.Fprintf(opts.Progress, "http-params: fold %d/5 done\n", f+1)
			}
		}
	}
	res.N = res.TP + res.FP + res.FN + res.TN
	for t, s := range res.Types {
		if s.N > 0 {
			s.Recall = float64(s.Flagged) / float64(s.N)
		}
		res.Types[t] = s
	}
	res.Precision, res.Recall, res.F1 = prf(res.TP, res.FP, res.FN)
	return res, nil
}

func prf(tp, fp, fn int) (p, r, f float64) {
	if tp+fp > 0 {
		p = float64(tp) / float64(tp+fp)
	}
	if tp+fn > 0 {
		r = float64(tp) / float64(tp+fn)
	}
	if p+r > 0 {
		f = 2 * p * r / (p + r)
	}
	return p, r, f
}

func trainPayloads(cfg payload.Config, rows []dataset.PayloadRow) (*payload.Classifier, error) {
	ps := make([]string, len(rows))
	ys := make([]bool, len(rows))
	for i, r := range rows {
		ps[i], ys[i] = r.Payload, r.Attack
	}
	return payload.Train(cfg, ps, ys)
}

// kFold splits 0..n-1 into k seeded folds.
func kFold(n, k int, seed int64) [][]int {
	perm := rand.New(rand.NewPCG(uint64(seed), 0xf01d)).Perm(n)
	folds := make([][]int, k)
	for i, j := range perm {
		folds[i%k] = append(folds[i%k], j)
	}
	return folds
}
