package modelreg

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-ids/rampart/internal/ml/drain"
	"github.com/rampart-ids/rampart/internal/ml/iforest"
	"github.com/rampart-ids/rampart/internal/ml/linear"
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
	maxRows      = 2_000_000
	maxLineBytes = 1 << 20
	maxLogLines  = 1_000_000
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

type payloadRow struct {
	payload, typ string
	attack       bool
}

func readPayloads(path string) ([]payloadRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening payloads: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("reading %s header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")] = i
	}
	pi, ok1 := col["payload"]
	ti, ok2 := col["attack_type"]
	li, ok3 := col["label"]
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("%s: want columns payload, attack_type, label; have %v", path, head)
	}
	var out []payloadRow
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		if len(rec) <= max(pi, ti, li) {
			return nil, fmt.Errorf("%s:%d: short row", path, line)
		}
		if len(out) >= maxRows {
			return nil, fmt.Errorf("%s: more than %d rows", path, maxRows)
		}
		lab := rec[li]
		if lab != "norm" && lab != "anom" {
			return nil, fmt.Errorf("%s:%d: label %q is neither norm nor anom", path, line, lab)
		}
		out = append(out, payloadRow{payload: rec[pi], typ: rec[ti], attack: lab == "anom"})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	return out, nil
}

// GuardTargetRate is the share of in-distribution inputs the input guard
// may flag: its unseen-share threshold is that quantile of held-out inputs.
const GuardTargetRate = 0.01

func trainPayload(ctx context.Context, o TrainOptions) (*model.Artifact, error) {
	trainPath := filepath.Join(o.Data, "payload_train.csv")
	all, err := readPayloads(trainPath)
	if err != nil {
		return nil, err
	}
	src, err := fileSource(trainPath, len(all))
	if err != nil {
		return nil, err
	}
	sources := []model.Source{src}
	var train, test []payloadRow
	var excl []model.Exclusion
	testPath := filepath.Join(o.Data, "payload_test.csv")
	if _, err := os.Stat(testPath); err == nil {
		test, err = readPayloads(testPath)
		if err != nil {
			return nil, err
		}
		ts, err := fileSource(testPath, len(test))
		if err != nil {
			return nil, err
		}
		ts.Name += " (held-out test, not trained on)"
		sources = append(sources, ts)
		train = all
	} else {
		tr, te := split(len(all), o.HoldOut, o.Seed)
		for _, i := range tr {
			train = append(train, all[i])
		}
		for _, i := range te {
			test = append(test, all[i])
		}
		excl = append(excl, model.Exclusion{Reason: fmt.Sprintf("held out for metrics (seeded %.0f%% split)", 100*o.HoldOut), Rows: len(test)})
	}
	ch := model.NewContentHasher()
	counts := map[string]int{}
	ps := make([]string, len(train))
	ys := make([]bool, len(train))
	for i, r := range train {
		ps[i], ys[i] = r.payload, r.attack
		counts[r.typ]++
		ch.Add([]byte(r.typ + "\x00" + r.payload))
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
		s := c.Score(r.payload)
		unseen = append(unseen, s.Unseen)
		scores = append(scores, s.Attack)
		switch {
		case s.Attack && r.attack:
			tp++
		case s.Attack:
			fp++
		case r.attack:
			fn++
		default:
			tn++
		}
	}
	p, rc, f1 := prf(tp, fp, fn)
	// The guard applies to inputs the model scores benign: its threshold is
	// the (1-GuardTargetRate) quantile of their unseen shares on half of the
	// held-out rows (even positions); its flag rates below are measured on
	// the other half.
	var calib []float64
	for i := 0; i < len(test); i += 2 {
		if !scores[i] {
			calib = append(calib, unseen[i])
		}
	}
	guard := quantile(calib, 1-GuardTargetRate)
	// A threshold of 1 would never fire (Unseen ≤ 1): keep the guard able
	// to flag inputs made entirely of unseen features.
	guard = math.Min(guard, 0.999)
	// The guard's flags on in-distribution inputs (the evaluation half of
	// the held-out rows): inputs the model scores benign but the guard reports.
	flagged, flaggedBenign, benign, evaluated := 0, 0, 0, 0
	for i := 1; i < len(test); i += 2 {
		r := test[i]
		evaluated++
		s := unseen[i] > guard && !scores[i]
		if s {
			flagged++
		}
		if !r.attack {
			benign++
			if s {
				flaggedBenign++
			}
		}
	}
	metrics := map[string]float64{"heldout_n": float64(len(test)), "precision": p, "recall": rc, "f1": f1,
		"fp_rate": ratio(fp, fp+tn), "guard_flag_rate": ratio(flagged, evaluated), "guard_flag_rate_benign": ratio(flaggedBenign, benign)}
	return model.New(model.Body{
		Kind: "payload-lr", Name: o.Name, Version: o.Version, Created: o.Created,
		Features: []string{"char 1-3-grams and word tokens of the decoded, case-folded parameter value"},
		Lineage:  model.Lineage{Sources: sources, ClassCounts: counts, Exclusions: excl, ContentHash: ch.Sum(), Seed: o.Seed},
		Metrics:  metrics,
		Thresholds: map[string]float64{"threshold": cfg.Threshold, "unseen_share": guard,
			"guard_target_rate": GuardTargetRate, "vocabulary": float64(len(c.Names))},
	}, c)
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

func readSessions(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening sessions: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	var out [][]string
	for sc.Scan() {
		if len(out) >= maxRows {
			return nil, fmt.Errorf("%s: more than %d sessions", path, maxRows)
		}
		out = append(out, strings.Fields(sc.Text()))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
}

func trainHDFS(ctx context.Context, o TrainOptions) (*model.Artifact, error) {
	trainPath := filepath.Join(o.Data, "hdfs_train")
	all, err := readSessions(trainPath)
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
	ents, err := os.ReadDir(o.Data)
	if err != nil {
		return nil, fmt.Errorf("reading hdfs dir: %w", err)
	}
	var abnormal, normal []string
	for _, e := range ents {
		n := e.Name()
		switch {
		case e.IsDir() || n == "hdfs_train":
		case strings.Contains(n, "abnormal"):
			abnormal = append(abnormal, n)
		case strings.Contains(n, "normal"):
			normal = append(normal, n)
		}
	}
	var train, heldNormal [][]string
	var excl []model.Exclusion
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
		ss, err := readSessions(filepath.Join(o.Data, n))
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
		ss, err := readSessions(filepath.Join(o.Data, n))
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
			Exclusions: excl, ContentHash: ch.Sum(), Seed: o.Seed},
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

func readLines(path string, limit int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening log: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	var out []string
	for sc.Scan() {
		if len(out) >= limit {
			return nil, fmt.Errorf("%s: more than %d lines", path, limit)
		}
		if l := strings.TrimRight(sc.Text(), "\r"); l != "" {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
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
		lines, err := readLines(p, maxLogLines)
		if err != nil {
			return nil, err
		}
		if total+len(lines) > maxLogLines {
			return nil, fmt.Errorf("%s: more than %d lines in all", o.Data, maxLogLines)
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
		Lineage:  model.Lineage{Sources: sources, ClassCounts: counts, ContentHash: ch.Sum(), Seed: o.Seed},
		Metrics: map[string]float64{"lines": float64(total), "templates": float64(len(m.Clusters())),
			"heldout_lines": float64(heldTotal), "heldout_new_template_rate": ratio(heldNew, heldTotal)},
		Thresholds: map[string]float64{"sim_threshold": drain.DefaultConfig().SimThreshold},
	}, TemplateParams{Miner: m.Snapshot(), Lines: total})
}

// ---- nsl-kdd (connection records) ----

const kddFeatures = 41

var kddCategorical = map[int]bool{1: true, 2: true, 3: true}

var kddColumns = []string{"duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land",
	"wrong_fragment", "urgent", "hot", "num_failed_logins", "logged_in", "num_compromised", "root_shell",
	"su_attempted", "num_root", "num_file_creations", "num_shells", "num_access_files", "num_outbound_cmds",
	"is_host_login", "is_guest_login", "count", "srv_count", "serror_rate", "srv_serror_rate", "rerror_rate",
	"srv_rerror_rate", "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate", "dst_host_count",
	"dst_host_srv_count", "dst_host_same_srv_rate", "dst_host_diff_srv_rate", "dst_host_same_src_port_rate",
	"dst_host_srv_diff_host_rate", "dst_host_serror_rate", "dst_host_srv_serror_rate", "dst_host_rerror_rate",
	"dst_host_srv_rerror_rate"}

type kddRow struct {
	f      []string
	label  string
	attack bool
}

func readKDD(path string) ([]kddRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening nsl-kdd file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
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
		if len(out) >= maxRows {
			return nil, fmt.Errorf("%s: more than %d rows", path, maxRows)
		}
		label := strings.TrimSuffix(cols[kddFeatures], ".")
		out = append(out, kddRow{f: cols[:kddFeatures], label: label, attack: label != "normal"})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	return out, nil
}

// KDDParams is the serialised nsl-kdd model (the same shape the nsl-kdd
// eval suite writes): featuriser, classifier and isolation forest.
type KDDParams struct {
	Categories map[string]map[string]int `json:"categories"` // column → value → slot
	Mean       []float64                 `json:"mean"`       // of log1p(numeric column)
	SD         []float64                 `json:"sd"`
	Features   []string                  `json:"features"`
	LR         *linear.Model             `json:"lr"`
	Forest     *iforest.Forest           `json:"forest"`
}

type kddModel struct {
	cats     map[int]map[string]int
	mean, sd []float64
	names    []string
	lr       *linear.Model
	forest   *iforest.Forest
}

func fitKDD(rows []kddRow, seed int64) (*kddModel, error) {
	m := &kddModel{cats: map[int]map[string]int{}}
	nNum := 0
	for j := 0; j < kddFeatures; j++ {
		if !kddCategorical[j] {
			m.names = append(m.names, kddColumns[j])
			nNum++
		}
	}
	for _, j := range []int{1, 2, 3} {
		m.cats[j] = map[string]int{}
		vals := map[string]bool{}
		for _, r := range rows {
			vals[r.f[j]] = true
		}
		keys := make([]string, 0, len(vals))
		for v := range vals {
			keys = append(keys, v)
		}
		sort.Strings(keys)
		for _, v := range keys {
			m.cats[j][v] = len(m.names)
			m.names = append(m.names, kddColumns[j]+"="+v)
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
		if r.attack {
			ys[i] = 1
		} else {
			normal = append(normal, dense[i])
		}
	}
	if len(normal) == 0 {
		return nil, errors.New("training nsl-kdd: no normal rows")
	}
	var err error
	if m.lr, err = linear.Train(xs, ys, len(m.names), linear.Options{L2: 1e-5, MaxIter: 150, PosWeight: 1}); err != nil {
		return nil, fmt.Errorf("training nsl-kdd classifier: %w", err)
	}
	cfg := iforest.DefaultConfig()
	cfg.Seed = uint64(seed)
	if m.forest, err = iforest.Fit(cfg, m.names, normal); err != nil {
		return nil, fmt.Errorf("training nsl-kdd isolation forest: %w", err)
	}
	return m, nil
}

func (m *kddModel) raw(r kddRow) ([]float64, error) {
	v := make([]float64, len(m.names))
	k := 0
	for j := 0; j < kddFeatures; j++ {
		if kddCategorical[j] {
			if slot, ok := m.cats[j][r.f[j]]; ok {
				v[slot] = 1
			}
			continue
		}
		x, err := strconv.ParseFloat(r.f[j], 64)
		if err != nil || x < 0 || math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("column %s: bad value %q", kddColumns[j], r.f[j])
		}
		v[k] = math.Log1p(x)
		k++
	}
	return v, nil
}

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
	trainPath := filepath.Join(o.Data, "KDDTrain+_20Percent.txt")
	all, err := readKDD(trainPath)
	if err != nil {
		return nil, err
	}
	src, err := fileSource(trainPath, len(all))
	if err != nil {
		return nil, err
	}
	sources := []model.Source{src}
	var train, test []kddRow
	var excl []model.Exclusion
	testPath := filepath.Join(o.Data, "KDDTest+.txt")
	if _, err := os.Stat(testPath); err == nil {
		if test, err = readKDD(testPath); err != nil {
			return nil, err
		}
		ts, err := fileSource(testPath, len(test))
		if err != nil {
			return nil, err
		}
		ts.Name += " (held-out test, not trained on)"
		sources, train = append(sources, ts), all
	} else {
		tr, te := split(len(all), o.HoldOut, o.Seed)
		for _, i := range tr {
			train = append(train, all[i])
		}
		for _, i := range te {
			test = append(test, all[i])
		}
		excl = append(excl, model.Exclusion{Reason: fmt.Sprintf("held out for metrics (seeded %.0f%% split)", 100*o.HoldOut), Rows: len(test)})
	}
	ch := model.NewContentHasher()
	counts := map[string]int{}
	for _, r := range train {
		ch.Add([]byte(strings.Join(r.f, ",") + "," + r.label))
		if r.attack {
			counts["attack"]++
		} else {
			counts["normal"]++
		}
	}
	excl = append(excl, model.Exclusion{Reason: "attack rows excluded from the isolation forest (trained on normal only)", Rows: counts["attack"]})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o.progress("nsl-kdd: training on %d records", len(train))
	m, err := fitKDD(train, o.Seed)
	if err != nil {
		return nil, err
	}
	var tp, fp, fn, tn int
	scores := make([]float64, len(test))
	labels := make([]bool, len(test))
	for i, r := range test {
		v, err := m.raw(r)
		if err != nil {
			return nil, fmt.Errorf("held-out row %d: %w", i+1, err)
		}
		pred := m.lr.Score(m.sparse(v)) >= 0.5
		s, err := m.forest.Score(v)
		if err != nil {
			return nil, err
		}
		scores[i], labels[i] = s.Score, r.attack
		switch {
		case pred && r.attack:
			tp++
		case pred:
			fp++
		case r.attack:
			fn++
		default:
			tn++
		}
	}
	p, rc, f1 := prf(tp, fp, fn)
	cats := map[string]map[string]int{}
	for j, vals := range m.cats {
		cats[kddColumns[j]] = vals
	}
	return model.New(model.Body{
		Kind: "nsl-kdd", Name: o.Name, Version: o.Version, Created: o.Created, Features: m.names,
		Lineage: model.Lineage{Sources: sources, ClassCounts: counts, Exclusions: excl, ContentHash: ch.Sum(), Seed: o.Seed},
		Metrics: map[string]float64{"heldout_n": float64(len(test)), "accuracy": ratio(tp+tn, len(test)),
			"precision": p, "recall": rc, "f1": f1, "forest_auc": auc(scores, labels)},
		Thresholds: map[string]float64{"lr": 0.5, "forest": m.forest.Threshold, "forest_target_rate": m.forest.Cfg.TargetRate},
	}, KDDParams{Categories: cats, Mean: m.mean, SD: m.sd, Features: m.names, LR: m.lr, Forest: m.forest})
}
