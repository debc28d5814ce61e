package mleval

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"text/tabwriter"

	"github.com/rampart-ids/rampart/internal/eval"
	"github.com/rampart-ids/rampart/internal/ml/dataset"
	"github.com/rampart-ids/rampart/internal/ml/seq"
)

func init() {
	eval.Register(eval.Suite{
		Name:    "hdfs",
		Summary: "sequence anomalies: next-key model on normal sessions, recall and false-positive rate (DIR like hdfs-deeplog)",
		Run:     runHDFS,
	})
}

const maxSessions = 2_000_000

// hdfsTargetRate is the alert rate on normal sessions the threshold is set for.
const hdfsTargetRate = 0.003

// HDFSFile is one scored file.
type HDFSFile struct {
	Name     string
	Abnormal bool
	Sessions int
	Flagged  int
	Rate     float64 // recall for abnormal files, fp rate for normal ones
}

// HDFSResult is the hdfs suite's result.
type HDFSResult struct {
	Train          int
	HeldOut        bool // fp rate measured on a held-back 20% of hdfs_train
	Files          []HDFSFile
	Recall, FPRate float64
	TP, FN, FP, TN int
	Config         seq.Config
	Threshold      float64
	Trimmed        int // training sessions Fit left out (Config.Trim)
}

// JSON implements eval.Result.
func (r *HDFSResult) JSON() map[string]any {
	files := map[string]any{}
	for _, f := range r.Files {
		files[f.Name] = map[string]any{"sessions": f.Sessions, "flagged": f.Flagged, "abnormal": f.Abnormal}
	}
	return map[string]any{
		"recall": r.Recall, "fp_rate": r.FPRate, "train_sessions": r.Train, "held_out": r.HeldOut,
		"tp": r.TP, "fn": r.FN, "fp": r.FP, "tn": r.TN, "files": files,
		"history": r.Config.History, "top_g": r.Config.TopG, "content_cap": r.Config.ContentCap,
		"trim": r.Config.Trim, "trimmed": r.Trimmed, "threshold": r.Threshold, "target_rate": hdfsTargetRate,
	}
}

// Table implements eval.Result.
func (r *HDFSResult) Table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "trained on %d normal sessions, %d trimmed (history %d, content cap %d, threshold %.2f for a %.1f%% alert rate)\n", r.Train, r.Trimmed, r.Config.History, r.Config.ContentCap, r.Threshold, 100*hdfsTargetRate)
	fmt.Fprintln(tw, "file\tkind\tsessions\tflagged\trate")
	for _, f := range r.Files {
		kind := "normal (fp rate)"
		if f.Abnormal {
			kind = "abnormal (recall)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.4f\n", f.Name, kind, f.Sessions, f.Flagged, f.Rate)
	}
	fmt.Fprintf(tw, "recall\t%.4f\nfp_rate\t%.4f\n", r.Recall, r.FPRate)
	return tw.Flush()
}

func runHDFS(ctx context.Context, opts eval.Options) (eval.Result, error) {
	train, err := dataset.ReadSessions(filepath.Join(opts.Data, dataset.HDFSTrain), maxSessions)
	if err != nil {
		return nil, err
	}
	abnormal, normal, err := dataset.HDFSFiles(opts.Data)
	if err != nil {
		return nil, err
	}
	if len(abnormal) == 0 {
		return nil, fmt.Errorf("no file named *abnormal* under %s", opts.Data)
	}
	res := &HDFSResult{Config: seq.DefaultConfig()}
	var heldOut [][]string
	if len(normal) == 0 {
		res.HeldOut = true
		train, heldOut = splitHoldout(train, 0.2, opts.Seed)
	}
	res.Train = len(train)
	if opts.Progress != nil {
		fmt.Fprintf(opts.Progress, "hdfs: fitting on %d sessions (10-fold threshold)\n", len(train))
	}
	model, err := seq.Fit(res.Config, train, hdfsTargetRate, 10, opts.Seed)
	if err != nil {
		return nil, fmt.Errorf("training on hdfs_train: %w", err)
	}
	res.Threshold, res.Trimmed = model.Threshold, model.Trimmed
	score := func(name string, sessions [][]string, isAbnormal bool) error {
		f := HDFSFile{Name: name, Abnormal: isAbnormal, Sessions: len(sessions)}
		for i, s := range sessions {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			r, err := model.Score(s)
			if err != nil {
				return fmt.Errorf("%s session %d: %w", name, i+1, err)
			}
			if r.Anomalous {
				f.Flagged++
			}
		}
		if f.Sessions > 0 {
			f.Rate = float64(f.Flagged) / float64(f.Sessions)
		}
		if isAbnormal {
			res.TP += f.Flagged
			res.FN += f.Sessions - f.Flagged
		} else {
			res.FP += f.Flagged
			res.TN += f.Sessions - f.Flagged
		}
		res.Files = append(res.Files, f)
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "hdfs %s: %d/%d flagged\n", name, f.Flagged, f.Sessions)
		}
		return nil
	}
	for _, n := range abnormal {
		ss, err := dataset.ReadSessions(filepath.Join(opts.Data, n), maxSessions)
		if err != nil {
			return nil, err
		}
		if err := score(n, ss, true); err != nil {
			return nil, err
		}
	}
	if res.HeldOut {
		if err := score("hdfs_train (held-back 20%)", heldOut, false); err != nil {
			return nil, err
		}
	}
	for _, n := range normal {
		ss, err := dataset.ReadSessions(filepath.Join(opts.Data, n), maxSessions)
		if err != nil {
			return nil, err
		}
		if err := score(n, ss, false); err != nil {
			return nil, err
		}
	}
	if res.TP+res.FN > 0 {
		res.Recall = float64(res.TP) / float64(res.TP+res.FN)
	}
	if res.FP+res.TN > 0 {
		res.FPRate = float64(res.FP) / float64(res.FP+res.TN)
	}
	return res, nil
}

// splitHoldout shuffles with a seeded PCG and holds back frac.
func splitHoldout[T any](xs []T, frac float64, seed int64) (train, held []T) {
	idx := rand.New(rand.NewPCG(uint64(seed), 0x5eed)).Perm(len(xs))
	nHeld := int(float64(len(xs)) * frac)
	for i, j := range idx {
		if i < nHeld {
			held = append(held, xs[j])
		} else {
			train = append(train, xs[j])
		}
	}
	return train, held
}
