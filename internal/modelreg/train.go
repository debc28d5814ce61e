package modelreg

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rampart-ids/rampart/internal/ml/dataset"
	"github.com/rampart-ids/rampart/internal/ml/drain"
	"github.com/rampart-ids/rampart/internal/ml/guard"
	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/ml/payload"
	"github.com/rampart-ids/rampart/internal/ml/seq"
)

// Trainable kinds, each reading DIR in the layout of its eval suite.
const (
	KindPayload   = "payload"          // DIR like http-params
	KindNSLKDD    = "nsl-kdd"          // DIR like nsl-kdd
	KindHDFS      = "hdfs"             // DIR like hdfs-deeplog
	KindTemplates = "loghub-templates" // DIR like loghub-2k (raw *.log lines)
)

// Kinds lists the trainable kinds.
func Kinds() []string { return []string{KindHDFS, KindTemplates, KindNSLKDD, KindPayload} }

// Input limits: a training folder larger than this is refused, not cut.
const (
	maxRows     = 2_000_000
	maxLogLines = 1_000_000
)

// TrainOptions configure Train.
type TrainOptions struct {
	Data    string    // folder in the kind's layout
	Name    string    // model name; default the kind
	Version string    // default: set by the caller (Registry.NextVersion)
	Seed    int64     // seeds splits and models: one seed, one artifact
	Created time.Time // the trainer's clock, recorded in the artifact
	// HoldOut is the share of rows held back for metrics when DIR has no
	// test file (default 0.2).
	HoldOut  float64
	Progress io.Writer // optional progress lines
	// Privacy, when set, filters the input files by purpose and
	// pseudonymizes personal data in them before features are built; both
	// are recorded in the lineage.
	Privacy *TrainPrivacy
}

// TrainPrivacy is how training protects personal data (issue 5): built by
// app.TrainingPrivacy from the privacy config.
type TrainPrivacy struct {
	// Line pseudonymizes one raw log line (loghub-templates).
	Line func(string) string
	// Text pseudonymizes one free-text value (payload parameter values).
	Text func(string) string
	// Allow says whether an input file may be used for training, and if
	// not, why (purpose tags; nil allows every file).
	Allow func(path string) (bool, string)
	// Describe is recorded in Lineage.Privacy ("pseudonymized with key epoch 1 …").
	Describe string
}

// allow applies the purpose filter to one input file.
func (o *TrainOptions) allow(path string) (bool, string) {
	if o.Privacy == nil || o.Privacy.Allow == nil {
		return true, ""
	}
	return o.Privacy.Allow(path)
}

// lineagePrivacy is what Lineage.Privacy records for a kind whose inputs
// pseudonymize (or hold no personal data: note says what they hold).
func (o *TrainOptions) lineagePrivacy(pseudonymized bool, note string) string {
	switch {
	case o.Privacy == nil || o.Privacy.Describe == "":
		return ""
	case pseudonymized:
		return o.Privacy.Describe
	}
	return "no personal-data fields in this layout (" + note + "); nothing pseudonymized"
}

// refused is the error for a training file its purposes exclude.
func refused(path, why string) error {
	return fmt.Errorf("training data %s may not be used: %s", path, why)
}

func (o *TrainOptions) defaults(kind string) {
	if o.Name == "" {
		o.Name = kind
	}
	if o.Version == "" {
		o.Version = "1"
	}
	if o.HoldOut <= 0 || o.HoldOut >= 1 {
		o.HoldOut = 0.2
	}
}

func (o *TrainOptions) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// Train trains a model of kind from o.Data and returns its artifact, with
// lineage (sources with hashes, counts per class, content hash, exclusions),
// held-out metrics and thresholds derived from data.
func Train(ctx context.Context, kind string, o TrainOptions) (*model.Artifact, error) {
	o.defaults(kind)
	if err := CheckName("name", o.Name); err != nil {
		return nil, err
	}
	if st, err := os.Stat(o.Data); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("training %s: data folder %q: not a readable folder", kind, o.Data)
	}
	switch kind {
	case KindPayload:
		return trainPayload(ctx, o)
	case KindNSLKDD:
		return trainKDD(ctx, o)
	case KindHDFS:
		return trainHDFS(ctx, o)
	case KindTemplates:
		return trainTemplates(ctx, o)
	}
	return nil, fmt.Errorf("unknown model kind %q (want %s)", kind, strings.Join(Kinds(), ", "))
}

func fileSource(path string, rows int) (model.Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return model.Source{}, fmt.Errorf("hashing %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return model.Source{}, fmt.Errorf("hashing %s: %w", path, err)
	}
	return model.Source{Name: filepath.Base(path), SHA256: hex.EncodeToString(h.Sum(nil)), Rows: rows}, nil
}

// split shuffles 0..n-1 with a seeded PCG and holds back frac of them.
func split(n int, frac float64, seed int64) (train, held []int) {
	perm := rand.New(rand.NewPCG(uint64(seed), 0x5eed)).Perm(n)
	nHeld := int(float64(n) * frac)
	held, train = append([]int(nil), perm[:nHeld]...), append([]int(nil), perm[nHeld:]...)
	sort.Ints(held)
	sort.Ints(train)
	return train, held
}

// trainTest reads DIR/trainName and, when DIR/testName exists, that file
// as the held-out rows; without one it holds back o.HoldOut of the
// training rows (seeded). Both files are recorded as sources.
func trainTest[T any](o TrainOptions, trainName, testName string, read func(string, int) ([]T, error)) (train, test []T, sources []model.Source, excl []model.Exclusion, err error) {
	trainPath := filepath.Join(o.Data, trainName)
	if ok, why := o.allow(trainPath); !ok {
		return nil, nil, nil, nil, refused(trainPath, why)
	}
	all, err := read(trainPath, maxRows)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	src, err := fileSource(trainPath, len(all))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	sources = []model.Source{src}
	testPath := filepath.Join(o.Data, testName)
	if ok, why := o.allow(testPath); !ok {
		if _, err := os.Stat(testPath); err == nil {
			excl = append(excl, model.Exclusion{Reason: fmt.Sprintf("%s not used: %s", testName, why), Rows: 0})
		}
	} else if _, err := os.Stat(testPath); err == nil {
		if test, err = read(testPath, maxRows); err != nil {
			return nil, nil, nil, nil, err
		}
		ts, err := fileSource(testPath, len(test))
		if err != nil {
			return nil, nil, nil, nil, err
		}
		ts.Name += " (held-out test, not trained on)"
		return all, test, append(sources, ts), nil, nil
	}
	tr, te := split(len(all), o.HoldOut, o.Seed)
	for _, i := range tr {
		train = append(train, all[i])
	}
	for _, i := range te {
		test = append(test, all[i])
	}
	excl = append(excl, model.Exclusion{Reason: fmt.Sprintf("held out for metrics (seeded %.0f%% split)", 100*o.HoldOut), Rows: len(test)})
	return train, test, sources, excl, nil
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

// quantile of xs (copied and sorted), linear between order statistics.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// ---- payload (http-params) ----

// The payload model's two input checks share a 1% false-flag budget on
// in-distribution inputs: GuardTargetRate is the unseen-feature share's
// (its threshold is that upper quantile of held-out inputs), ShapeGuardRate
// the shape guard's (guard.Config.Rate).
const (
	GuardTargetRate = 0.005
	ShapeGuardRate  = 0.005
)

func trainPayload(ctx context.Context, o TrainOptions) (*model.Artifact, error) {
	train, test, sources, excl, err := trainTest(o, "payload_train.csv", "payload_test.csv", dataset.ReadPayloads)
	if err != nil {
		return nil, err
	}
	if o.Privacy != nil && o.Privacy.Text != nil {
		for _, rows := range [][]dataset.PayloadRow{train, test} {
			for i := range rows {
				rows[i].Payload = o.Privacy.Text(rows[i].Payload)
			}
		}
	}
	ch := model.NewContentHasher()
	counts := map[string]int{}
	ps := make([]string, len(train))
	ys := make([]bool, len(train))
	for i, r := range train {
		ps[i], ys[i] = r.Payload, r.Attack
		counts[r.Type]++
		ch.Add([]byte(r.Type + "\x00" + r.Payload))
	}
	o.progress("payload: training on %d payloads", len(train))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg := payload.DefaultConfig()
	c, err := payload.Train(cfg, ps, ys)
	if err != nil {
		return nil, err
	}
	var tp, fp, fn, tn int
	unseen := make([]float64, 0, len(test))
	scores := make([]bool, 0, len(test))
	for _, r := range test {
		s := c.Score(r.Payload)
		unseen = append(unseen, s.Unseen)
		scores = append(scores, s.Attack)
		switch {
		case s.Attack && r.Attack:
			tp++
		case s.Attack:
			fp++
		case r.Attack:
			fn++
		default:
			tn++
		}
	}
	p, rc, f1 := prf(tp, fp, fn)
	// The unseen-share guard applies to inputs the model scores benign: its
	// threshold is the (1-GuardTargetRate) quantile of their unseen shares on half of the
	// held-out rows (even positions); its flag rates below are measured on
	// the other half.
	var calib []float64
	for i := 0; i < len(test); i += 2 {
		if !scores[i] {
			calib = append(calib, unseen[i])
		}
	}
	unseenCut := quantile(calib, 1-GuardTargetRate)
	// A threshold of 1 would never fire (Unseen ≤ 1): keep the guard able
	// to flag inputs made entirely of unseen features.
	unseenCut = math.Min(unseenCut, 0.999)
	// The unseen-share guard's flags on in-distribution inputs (the
	// evaluation half of the held-out rows): inputs the model scores benign but the guard reports.
	flagged, flaggedBenign, benign, evaluated := 0, 0, 0, 0
	for i := 1; i < len(test); i += 2 {
		r := test[i]
		evaluated++
		s := unseen[i] > unseenCut && !scores[i]
		if s {
			flagged++
		}
		if !r.Attack {
			benign++
			if s {
				flaggedBenign++
			}
		}
	}
	metrics := map[string]float64{"heldout_n": float64(len(test)), "precision": p, "recall": rc, "f1": f1,
		"fp_rate": ratio(fp, fp+tn), "guard_flag_rate": ratio(flagged, evaluated), "guard_flag_rate_benign": ratio(flaggedBenign, benign)}
	// The input guard on the shape of every training input (all classes:
	// it measures support, not maliciousness), stored in the artifact.
	o.progress("payload: fitting the input guard")
	tv := make([][]float64, len(train))
	for i, r := range train {
		tv[i] = PayloadGuardVector(r.Payload)
	}
	gcfg := guard.DefaultConfig()
	gcfg.Rate = ShapeGuardRate
	g, err := fitGuard(gcfg, guard.TextFeatureNames(), tv, o.Seed)
	if err != nil {
		return nil, err
	}
	// The shift monitor compares production windows with the benign
	// training inputs: live traffic is mostly benign, the training mix not.
	var bv [][]float64
	for i, r := range train {
		if !r.Attack {
			bv = append(bv, tv[i])
		}
	}
	if g.Stream, err = guard.FitStreamRef("benign training rows", guard.TextFeatureNames(), bv); err != nil {
		return nil, err
	}
	hv := make([][]float64, len(test))
	for i, r := range test {
		hv[i] = PayloadGuardVector(r.Payload)
	}
	if metrics["input_guard_flag_rate"], err = flagRate(g, hv); err != nil {
		return nil, err
	}
	rawGuard, err := g.Encode()
	if err != nil {
		return nil, err
	}
	return model.New(model.Body{InputGuard: rawGuard,
		Kind: "payload-lr", Name: o.Name, Version: o.Version, Created: o.Created,
		Features: []string{"char 1-3-grams and word tokens of the decoded, case-folded parameter value"},
		Lineage: model.Lineage{Sources: sources, ClassCounts: counts, Exclusions: excl, ContentHash: ch.Sum(), Seed: o.Seed,
			Privacy: o.lineagePrivacy(o.Privacy != nil && o.Privacy.Text != nil, "")},
		Metrics: metrics,
		Thresholds: map[string]float64{"threshold": cfg.Threshold, "unseen_share": unseenCut,
			"guard_target_rate": GuardTargetRate, "vocabulary": float64(len(c.Names))},
	}, c)
}

// PayloadGuardVector is the input-guard vector of a web parameter value:
// the shape of the text the payload model sees (decoded, case-folded).
func PayloadGuardVector(raw string) []float64 {
	return guard.TextFeatures(payload.Normalize(raw))
}

// fitGuard fits the input guard on training vectors, seeded like the model.
func fitGuard(cfg guard.Config, names []string, rows [][]float64, seed int64) (*guard.Guard, error) {
	cfg.Forest.Seed = uint64(seed)
	g, err := guard.Fit(cfg, names, rows)
	if err != nil {
		return nil, fmt.Errorf("training the input guard: %w", err)
	}
	return g, nil
}

// flagRate is the share of rows the guard flags (on held-out rows: its
// false-flag rate on in-distribution inputs).
func flagRate(g *guard.Guard, rows [][]float64) (float64, error) {
	n := 0
	for _, r := range rows {
		c, err := g.Check(r)
		if err != nil {
			return 0, err
		}
		if c.Flagged {
			n++
		}
	}
	return ratio(n, len(rows)), nil
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// ---- hdfs (sessions of log keys) ----

// HDFSTargetRate is the alert rate on normal sessions the threshold is set for.
const HDFSTargetRate = 0.003

func trainHDFS(ctx context.Context, o TrainOptions) (*model.Artifact, error) {
	trainPath := filepath.Join(o.Data, dataset.HDFSTrain)
	if ok, why := o.allow(trainPath); !ok {
		return nil, refused(trainPath, why)
	}
	all, err := dataset.ReadSessions(trainPath, maxRows)
	if err != nil {
		return nil, err
	}
	if len(all) < 10 {
		return nil, fmt.Errorf("%s: %d sessions, need at least 10", trainPath, len(all))
	}
	src, err := fileSource(trainPath, len(all))
	if err != nil {
		return nil, err
	}
	sources := []model.Source{src}
	abnormal, normal, err := dataset.HDFSFiles(o.Data)
	if err != nil {
		return nil, err
	}
	var train, heldNormal [][]string
	var excl []model.Exclusion
	abnormal, excl = o.allowed(abnormal, excl)
	normal, excl = o.allowed(normal, excl)
	if len(normal) == 0 {
		tr, te := split(len(all), o.HoldOut, o.Seed)
		for _, i := range tr {
			train = append(train, all[i])
		}
		for _, i := range te {
			heldNormal = append(heldNormal, all[i])
		}
		excl = append(excl, model.Exclusion{Reason: fmt.Sprintf("held out for the false-positive rate (seeded %.0f%% split)", 100*o.HoldOut), Rows: len(heldNormal)})
	} else {
		train = all
	}
	ch := model.NewContentHasher()
	for _, s := range train {
		ch.Add([]byte(strings.Join(s, " ")))
	}
	o.progress("hdfs: fitting on %d sessions (10-fold threshold)", len(train))
	m, err := seq.Fit(seq.DefaultConfig(), train, HDFSTargetRate, 10, o.Seed)
	if err != nil {
		return nil, fmt.Errorf("training on %s: %w", trainPath, err)
	}
	count := func(ss [][]string) (flagged int, err error) {
		for i, s := range ss {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return 0, err
				}
			}
			r, err := m.Score(s)
			if err != nil {
				return 0, fmt.Errorf("session %d: %w", i+1, err)
			}
			if r.Anomalous {
				flagged++
			}
		}
		return flagged, nil
	}
	metrics := map[string]float64{}
	var fp, nNormal, tp, nAbn int
	for _, n := range normal {
		ss, err := dataset.ReadSessions(filepath.Join(o.Data, n), maxRows)
		if err != nil {
			return nil, err
		}
		heldNormal = append(heldNormal, ss...)
		s, err := fileSource(filepath.Join(o.Data, n), len(ss))
		if err != nil {
			return nil, err
		}
		s.Name += " (held-out normal, not trained on)"
		sources = append(sources, s)
	}
	if fp, err = count(heldNormal); err != nil {
		return nil, err
	}
	nNormal = len(heldNormal)
	for _, n := range abnormal {
		ss, err := dataset.ReadSessions(filepath.Join(o.Data, n), maxRows)
		if err != nil {
			return nil, err
		}
		f, err := count(ss)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		tp += f
		nAbn += len(ss)
		s, err := fileSource(filepath.Join(o.Data, n), len(ss))
		if err != nil {
			return nil, err
		}
		s.Name += " (held-out abnormal, not trained on)"
		sources = append(sources, s)
	}
	metrics["fp_rate"], metrics["heldout_normal"] = ratio(fp, nNormal), float64(nNormal)
	if nAbn > 0 {
		metrics["recall"], metrics["heldout_abnormal"] = ratio(tp, nAbn), float64(nAbn)
	}
	return model.New(model.Body{
		Kind: "seq", Name: o.Name, Version: o.Version, Created: o.Created,
		Features: []string{"session of log keys (template ids): previous key, order-free session state, recurrence"},
		Lineage: model.Lineage{Sources: sources, ClassCounts: map[string]int{"normal": len(train)},
			Exclusions: excl, ContentHash: ch.Sum(), Seed: o.Seed, Privacy: o.lineagePrivacy(false, "sessions of log-key ids")},
		Metrics:    metrics,
		Thresholds: map[string]float64{"threshold": m.Threshold, "target_rate": m.TargetRate},
	}, m)
}

// ---- loghub-templates (raw log lines) ----

// TemplateParams is the serialised template model: the miner's templates.
type TemplateParams struct {
	Miner drain.Snapshot `json:"miner"`
	Lines int            `json:"lines"` // lines mined (the warm-up the detector credits)
}

// trainTemplates mines the contents of every *.log file (DIR/*.log and
// DIR/<system>/*.log). Each file's header layout is learned from its own
// lines. The first 1-HoldOut of each file is mined first; the share of the
// rest that would have created a new template is the held-out
// new-template rate (the new-template signal's false-positive rate on a
// familiar source); then the rest is mined too.
func trainTemplates(ctx context.Context, o TrainOptions) (*model.Artifact, error) {
	files, _ := filepath.Glob(filepath.Join(o.Data, "*.log"))
	sub, _ := filepath.Glob(filepath.Join(o.Data, "*", "*.log"))
	files = append(files, sub...)
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.log files in %s or its sub-folders", o.Data)
	}
	var excl []model.Exclusion
	kept := files[:0:0]
	for _, p := range files {
		if ok, why := o.allow(p); !ok {
			lines, err := dataset.ReadNonEmptyLines(p, maxLogLines)
			if err != nil {
				return nil, err
			}
			rel, _ := filepath.Rel(o.Data, p)
			excl = append(excl, model.Exclusion{Reason: rel + ": " + why, Rows: len(lines)})
			continue
		}
		kept = append(kept, p)
	}
	if files = kept; len(files) == 0 {
		return nil, fmt.Errorf("no *.log file in %s may be used for training (%d excluded by purpose)", o.Data, len(excl))
	}
	m, err := drain.New(drain.DefaultConfig())
	if err != nil {
		return nil, err
	}
	ch := model.NewContentHasher()
	var sources []model.Source
	counts := map[string]int{}
	total, heldTotal, heldNew := 0, 0, 0
	type pending struct{ contents []string }
	var rest []pending
	for _, p := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		lines, err := dataset.ReadNonEmptyLines(p, maxLogLines)
		if err != nil {
			return nil, err
		}
		if total+len(lines) > maxLogLines {
			return nil, fmt.Errorf("%s: more than %d lines in all", o.Data, maxLogLines)
		}
		if o.Privacy != nil && o.Privacy.Line != nil {
			for i, l := range lines {
				lines[i] = o.Privacy.Line(l)
			}
		}
		src, err := fileSource(p, len(lines))
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(o.Data, p)
		src.Name = rel
		sources = append(sources, src)
		counts[rel] = len(lines)
		h := drain.LearnHeader(lines)
		cut := len(lines) - int(float64(len(lines))*o.HoldOut)
		var held []string
		for i, l := range lines {
			_, c := h.Split(l)
			ch.Add([]byte(c))
			if i >= cut {
				held = append(held, c)
				continue
			}
			if _, err := m.Add(c); err != nil {
				return nil, fmt.Errorf("%s line %d: %w", rel, i+1, err)
			}
		}
		total += len(lines)
		rest = append(rest, pending{held})
		o.progress("loghub-templates: %s %d lines, %d templates so far", rel, len(lines), len(m.Clusters()))
	}
	for _, r := range rest {
		for _, c := range r.contents {
			mt, err := m.Add(c)
			if err != nil {
				return nil, err
			}
			heldTotal++
			if mt.New {
				heldNew++
			}
		}
	}
	return model.New(model.Body{
		Kind: "drain", Name: o.Name, Version: o.Version, Created: o.Created,
		Features: []string{"log message content (header learned per file and removed)"},
		Lineage: model.Lineage{Sources: sources, ClassCounts: counts, Exclusions: excl, ContentHash: ch.Sum(), Seed: o.Seed,
			Privacy: o.lineagePrivacy(o.Privacy != nil && o.Privacy.Line != nil, "")},
		Metrics: map[string]float64{"lines": float64(total), "templates": float64(len(m.Clusters())),
			"heldout_lines": float64(heldTotal), "heldout_new_template_rate": ratio(heldNew, heldTotal)},
		Thresholds: map[string]float64{"sim_threshold": drain.DefaultConfig().SimThreshold},
	}, TemplateParams{Miner: m.Snapshot(), Lines: total})
}

// ---- nsl-kdd (connection records) ----

// KDDParams is the serialised nsl-kdd model (the same shape the nsl-kdd
// eval suite writes): featuriser, classifier and isolation forest.
type KDDParams = dataset.KDDParams

// auc is the ROC AUC of scores for positives (Mann–Whitney, ties count half).
func auc(scores []float64, pos []bool) float64 {
	idx := make([]int, len(scores))
	var np, nn float64
	for i := range idx {
		idx[i] = i
		if pos[i] {
			np++
		} else {
			nn++
		}
	}
	if np == 0 || nn == 0 {
		return 0
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	rank := 0.0
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2
		for k := i; k < j; k++ {
			if pos[idx[k]] {
				rank += avg
			}
		}
		i = j
	}
	return (rank - np*(np+1)/2) / (np * nn)
}

func trainKDD(ctx context.Context, o TrainOptions) (*model.Artifact, error) {
	train, test, sources, excl, err := trainTest(o, "KDDTrain+_20Percent.txt", "KDDTest+.txt", dataset.ReadKDD)
	if err != nil {
		return nil, err
	}
	contentHash, counts := dataset.KDDLineage(train)
	excl = append(excl, model.Exclusion{Reason: "attack rows excluded from the isolation forest (trained on normal only)", Rows: counts["attack"]})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o.progress("nsl-kdd: training on %d records", len(train))
	m, err := dataset.FitKDD(train, o.Seed)
	if err != nil {
		return nil, err
	}
	var tp, fp, fn, tn int
	scores := make([]float64, len(test))
	labels := make([]bool, len(test))
	for i, r := range test {
		v, err := m.Raw(r)
		if err != nil {
			return nil, fmt.Errorf("held-out row %d: %w", i+1, err)
		}
		pred := m.LR.Score(m.Sparse(v)) >= 0.5
		s, err := m.Forest.Score(v)
		if err != nil {
			return nil, err
		}
		scores[i], labels[i] = s.Score, r.Attack
		switch {
		case pred && r.Attack:
			tp++
		case pred:
			fp++
		case r.Attack:
			fn++
		default:
			tn++
		}
	}
	p, rc, f1 := prf(tp, fp, fn)
	// The input guard on the training connections' feature vectors, in
	// the record configuration `rampart eval --suite adversarial` measures
	// on NSL-KDD (rank-space distance and the combined test).
	o.progress("nsl-kdd: fitting the input guard")
	tv := make([][]float64, len(train))
	for i, r := range train {
		if tv[i], err = m.Raw(r); err != nil {
			return nil, fmt.Errorf("training row %d: %w", i+1, err)
		}
	}
	g, err := fitGuard(guard.RecordConfig(), m.Names, tv, o.Seed)
	if err != nil {
		return nil, err
	}
	hv := make([][]float64, len(test))
	for i, r := range test {
		if hv[i], err = m.Raw(r); err != nil {
			return nil, fmt.Errorf("held-out row %d: %w", i+1, err)
		}
	}
	guardRate, err := flagRate(g, hv)
	if err != nil {
		return nil, err
	}
	rawGuard, err := g.Encode()
	if err != nil {
		return nil, err
	}
	return model.New(model.Body{InputGuard: rawGuard,
		Kind: "nsl-kdd", Name: o.Name, Version: o.Version, Created: o.Created, Features: m.Names,
		Lineage: model.Lineage{Sources: sources, ClassCounts: counts, Exclusions: excl, ContentHash: contentHash, Seed: o.Seed,
			Privacy: o.lineagePrivacy(false, "connection features without addresses or names")},
		Metrics: map[string]float64{"heldout_n": float64(len(test)), "accuracy": ratio(tp+tn, len(test)),
			"precision": p, "recall": rc, "f1": f1, "forest_auc": auc(scores, labels), "input_guard_flag_rate": guardRate},
		Thresholds: map[string]float64{"lr": 0.5, "forest": m.Forest.Threshold, "forest_target_rate": m.Forest.Cfg.TargetRate},
	}, m.Params())
}

// allowed drops the files the purpose filter excludes, recording each.
func (o *TrainOptions) allowed(names []string, excl []model.Exclusion) ([]string, []model.Exclusion) {
	var kept []string
	for _, n := range names {
		if ok, why := o.allow(filepath.Join(o.Data, n)); !ok {
			excl = append(excl, model.Exclusion{Reason: n + " not used: " + why})
			continue
		}
		kept = append(kept, n)
	}
	return kept, excl
}
