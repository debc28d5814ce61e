// Package adversarial is the `adversarial` eval suite (issue 4): how
// Rampart's ML holds up when attacked. On one dataset folder (NSL-KDD,
// HDFS or http-params layout, recognised from its files) it measures
// poisoning (attack records injected into a training window, recall with
// and without the defences of internal/ml/robust), evasion (mimicry toward
// normal, payload obfuscation; ML alone and the layered stack), tampering
// (flipped bytes in a signed model file, internal/ml/model) and the input
// guard (internal/ml/guard) on records of attack types held out of
// training. The defences see only what production would see: alerts of
// the live (champion) model and of the rules on the training window,
// never the labels of injected records. Deterministic for a given seed.
package adversarial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rampart-ids/rampart/internal/eval"
	"github.com/rampart-ids/rampart/internal/ml/model"
)

func init() {
	eval.Register(eval.Suite{
		Name:    "adversarial",
		Summary: "poisoning, evasion, tampering and input-guard tests of the ML layer (DIR like nsl-kdd, http-params or hdfs-deeplog)",
		Run:     run,
	})
}

// PoisonRates are the injected shares of the training window.
var PoisonRates = []float64{0, 0.05, 0.10, 0.20}

// VoidLoss is the naive recall loss (points) at 10% below which the
// poisoning result says nothing about the defences.
const VoidLoss = 0.15

// Poison is one poisoning rate's outcome.
type Poison struct {
	Rate           float64
	RecallDefended float64
	RecallNaive    float64
	// FP rates on held-out normal records, so recall is read beside cost.
	FPDefended, FPNaive float64
	Injected            int
	// Excluded counts window rows the defences left out, per reason.
	Excluded   map[string]int
	DriftAlarm bool
	DriftPSI   float64
}

// Evasion is one evasion attack's outcome.
type Evasion struct {
	Attack      string
	N           int
	MLRecall    float64
	StackRecall float64
}

// Result is the suite's outcome.
type Result struct {
	Layout                string
	Poisoning             []Poison
	Void                  bool
	VoidReason            string
	Evasion               []Evasion
	TamperRefused         int
	TamperTrials          int
	TamperReasons         map[string]int
	OODFlagRate, OODFalse float64
	OODHeldOut            map[string][2]float64 // held-out type → flag rate, false flag rate
	// OODIndistinguishable is the mean share of held-out inputs identical
	// to a guard training input (per type in OODIndist); nil map: not
	// measured for the layout.
	OODIndistinguishable float64
	OODIndist            map[string]float64
	// OODOracle is, per held-out type, the most any one of the guard's
	// views (range, depth, distances, combined) flags when its threshold is
	// set on the in-distribution test rows themselves at the false-flag
	// budget: a bound no calibration on training data can beat with these
	// views (nil map: not measured). OODOracleMean is its mean.
	OODOracleMean float64
	OODOracle     map[string]float64
	Notes         []string
	Seconds       float64
}

func r4(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return math.Round(x*1e4) / 1e4
}

// JSON returns the documented keys.
func (r *Result) JSON() map[string]any {
	var pois []map[string]any
	for _, p := range r.Poisoning {
		pois = append(pois, map[string]any{"rate": p.Rate, "recall_defended": r4(p.RecallDefended), "recall_naive": r4(p.RecallNaive),
			"fp_defended": r4(p.FPDefended), "fp_naive": r4(p.FPNaive), "injected": p.Injected, "excluded": p.Excluded,
			"drift_alarm": p.DriftAlarm, "drift_max_psi": r4(p.DriftPSI)})
	}
	var ev []map[string]any
	for _, e := range r.Evasion {
		ev = append(ev, map[string]any{"attack": e.Attack, "n": e.N, "ml_recall": r4(e.MLRecall), "stack_recall": r4(e.StackRecall)})
	}
	held := map[string]any{}
	for k, v := range r.OODHeldOut {
		h := map[string]any{"flag_rate": r4(v[0]), "false_flag_rate": r4(v[1])}
		if ind, ok := r.OODIndist[k]; ok {
			h["indistinguishable"] = r4(ind)
		}
		if o, ok := r.OODOracle[k]; ok {
			h["oracle_single_view"] = r4(o)
		}
		held[k] = h
	}
	out := map[string]any{
		"layout": r.Layout, "poisoning": pois, "poisoning_void": r.Void, "poisoning_void_reason": r.VoidReason,
		"evasion": ev, "tamper_refused": r.TamperRefused, "tamper_trials": r.TamperTrials, "tamper_reasons": r.TamperReasons,
		"ood_flag_rate": r4(r.OODFlagRate), "ood_false_flag_rate": r4(r.OODFalse), "ood_held_out": held,
		"notes": r.Notes,
	}
	if r.OODIndist != nil {
		out["ood_indistinguishable"] = r4(r.OODIndistinguishable)
	}
	if r.OODOracle != nil {
		out["ood_oracle_single_view"] = r4(r.OODOracleMean)
	}
	return out
}

// Table writes the human-readable report.
func (r *Result) Table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "layout\t%s\n\npoisoning rate\trecall defended\trecall naive\tfp defended\tfp naive\tdrift alarm\n", r.Layout)
	for _, p := range r.Poisoning {
		fmt.Fprintf(tw, "%.2f\t%.4f\t%.4f\t%.4f\t%.4f\t%v\n", p.Rate, p.RecallDefended, p.RecallNaive, p.FPDefended, p.FPNaive, p.DriftAlarm)
	}
	if r.Void {
		fmt.Fprintf(tw, "POISONING RESULT VOID: %s\n", r.VoidReason)
	}
	fmt.Fprintf(tw, "\nevasion attack\tn\tml recall\tstack recall\n")
	for _, e := range r.Evasion {
		fmt.Fprintf(tw, "%s\t%d\t%.4f\t%.4f\n", e.Attack, e.N, e.MLRecall, e.StackRecall)
	}
	fmt.Fprintf(tw, "\ntamper refused\t%d / %d\n", r.TamperRefused, r.TamperTrials)
	fmt.Fprintf(tw, "ood flag rate\t%.4f\nood false flag rate\t%.4f\n", r.OODFlagRate, r.OODFalse)
	if r.OODIndist != nil {
		fmt.Fprintf(tw, "ood indistinguishable\t%.4f\n", r.OODIndistinguishable)
	}
	keys := make([]string, 0, len(r.OODHeldOut))
	for k := range r.OODHeldOut {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(tw, "  held out %s\t%.4f flagged, %.4f false", k, r.OODHeldOut[k][0], r.OODHeldOut[k][1])
		if ind, ok := r.OODIndist[k]; ok {
			fmt.Fprintf(tw, ", %.4f indistinguishable", ind)
		}
		if o, ok := r.OODOracle[k]; ok {
			fmt.Fprintf(tw, ", single-view oracle %.4f", o)
		}
		fmt.Fprintln(tw)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(tw, "note\t%s\n", n)
	}
	return tw.Flush()
}

func run(ctx context.Context, opts eval.Options) (eval.Result, error) {
	if opts.Data == "" {
		return nil, errors.New("adversarial: --data DIR is required (an nsl-kdd, http-params or hdfs-deeplog folder)")
	}
	st, err := os.Stat(opts.Data)
	if err != nil || !st.IsDir() {
		return nil, fmt.Errorf("adversarial: --data %s is not a directory", opts.Data)
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	start := time.Now()
	var res *Result
	switch {
	case kddTrainFile(opts.Data) != "":
		res, err = runKDD(ctx, opts.Data, opts.Seed, progress)
	case exists(filepath.Join(opts.Data, "payload_train.csv")):
		res, err = runPayload(ctx, opts.Data, opts.Seed, progress)
	case exists(filepath.Join(opts.Data, "hdfs_train")):
		res, err = runHDFS(ctx, opts.Data, opts.Seed, progress)
	default:
		return nil, fmt.Errorf("adversarial: %s holds none of KDDTrain+_20Percent.txt / KDDTrain+.txt (nsl-kdd), payload_train.csv (http-params), hdfs_train (hdfs-deeplog)", opts.Data)
	}
	if err != nil {
		return nil, fmt.Errorf("adversarial: %w", err)
	}
	res.Seconds = time.Since(start).Seconds()
	res.judgeVoid()
	return res, nil
}

// splitShuffled shuffles rows with the seed's stream for a layout and
// splits them into normal and attack rows, refusing a file too small for
// the suite's windows.
func splitShuffled[T any](path string, rows []T, seed int64, stream uint64, isAttack func(T) bool) (normal, attack []T, err error) {
	rng := rand.New(rand.NewPCG(uint64(seed), stream))
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	for _, r := range rows {
		if isAttack(r) {
			attack = append(attack, r)
		} else {
			normal = append(normal, r)
		}
	}
	if len(normal) < 200 || len(attack) < 100 {
		return nil, nil, fmt.Errorf("%s: %d normal and %d attack rows; need at least 200 and 100", path, len(normal), len(attack))
	}
	return normal, attack, nil
}

// heldOutCategories lists, sorted, the attack categories with at least 10
// rows: each is held out of the guard's training in turn.
func heldOutCategories[T any](rows []T, category func(T) (string, bool)) []string {
	count := map[string]int{}
	for _, r := range rows {
		if c, attack := category(r); attack {
			count[c]++
		}
	}
	var held []string
	for c, n := range count {
		if n >= 10 {
			held = append(held, c)
		}
	}
	sort.Strings(held)
	return held
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// judgeVoid applies the rule: without a naive loss of at least
// VoidLoss at 10%, the defended numbers show nothing.
func (r *Result) judgeVoid() {
	var clean, ten *Poison
	for i := range r.Poisoning {
		switch r.Poisoning[i].Rate {
		case 0:
			clean = &r.Poisoning[i]
		case 0.10:
			ten = &r.Poisoning[i]
		}
	}
	if clean == nil || ten == nil {
		r.Void, r.VoidReason = true, "no clean or 10% poisoning run"
		return
	}
	if loss := clean.RecallNaive - ten.RecallNaive; loss < VoidLoss {
		r.Void = true
		r.VoidReason = fmt.Sprintf("the naive model lost only %.1f recall points at 10%% poisoning (< %.0f required): this poisoning does not hurt it, so the defences are not tested", 100*loss, 100*VoidLoss)
	}
}

// seeded is a deterministic byte source (key generation in tamper trials).
type seeded struct{ r *rand.ChaCha8 }

func (s seeded) Read(p []byte) (int, error) { return s.r.Read(p) }

// tamper signs a with a fresh key ring and flips bits at seeded random
// places in the model file and its signature; every altered pair must be
// refused by the loader.
func tamper(a *model.Artifact, seed int64, trials int, res *Result) error {
	dir, err := os.MkdirTemp("", "rampart-adv-keys-")
	if err != nil {
		return fmt.Errorf("tamper trials: %w", err)
	}
	defer os.RemoveAll(dir)
	var key [32]byte
	for i := range 8 {
		key[i] = byte(uint64(seed) >> (8 * i))
	}
	kr, err := model.InitKeyRing(dir, seeded{rand.NewChaCha8(key)}, time.Unix(0, 0).UTC())
	if err != nil {
		return err
	}
	data, err := a.Encode()
	if err != nil {
		return err
	}
	s, err := kr.Sign(a)
	if err != nil {
		return err
	}
	sig, err := s.Encode()
	if err != nil {
		return err
	}
	if _, err := kr.DecodeSigned(data, sig); err != nil {
		return fmt.Errorf("tamper trials: untouched model refused: %w", err)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x7a3))
	res.TamperReasons = map[string]int{}
	for range trials {
		m, g := data, sig
		// Files are flipped in proportion to their size, at least a fifth of trials on the signature.
		if rng.IntN(5) == 0 {
			g = flip(sig, rng)
		} else {
			m = flip(data, rng)
		}
		res.TamperTrials++
		_, err := kr.DecodeSigned(m, g)
		if err != nil {
			res.TamperRefused++
			res.TamperReasons[reason(err)]++
		}
	}
	return nil
}

func flip(b []byte, rng *rand.Rand) []byte {
	out := append([]byte(nil), b...)
	out[rng.IntN(len(out))] ^= 1 << rng.IntN(8)
	return out
}

func reason(err error) string {
	for _, e := range []error{model.ErrHash, model.ErrNotCanonical, model.ErrFormat, model.ErrSignature, model.ErrUnknownKey, model.ErrUnsigned} {
		if errors.Is(err, e) {
			return strings.SplitN(e.Error(), " (", 2)[0]
		}
	}
	return "other"
}

func recall(flags []bool) float64 {
	if len(flags) == 0 {
		return math.NaN()
	}
	n := 0
	for _, f := range flags {
		if f {
			n++
		}
	}
	return float64(n) / float64(len(flags))
}

// quantile of an unsorted slice (copied).
func quantile(xs []float64, q float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (pos-float64(lo))*(s[hi]-s[lo])
}
