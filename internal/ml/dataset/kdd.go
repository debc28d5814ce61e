package dataset

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/rampart-ids/rampart/internal/ml/iforest"
	"github.com/rampart-ids/rampart/internal/ml/linear"
	"github.com/rampart-ids/rampart/internal/ml/model"
)

// KDDFeatures is the number of feature columns of an NSL-KDD record.
const KDDFeatures = 41

// KDDCategorical lists the symbolic columns (protocol_type, service, flag),
// in the order their one-hot slots are laid out.
var KDDCategorical = []int{1, 2, 3}

func kddCategorical(j int) bool { return j >= 1 && j <= 3 }

// KDDColumns names the 41 feature columns.
var KDDColumns = []string{"duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land",
	"wrong_fragment", "urgent", "hot", "num_failed_logins", "logged_in", "num_compromised", "root_shell",
	"su_attempted", "num_root", "num_file_creations", "num_shells", "num_access_files", "num_outbound_cmds",
	"is_host_login", "is_guest_login", "count", "srv_count", "serror_rate", "srv_serror_rate", "rerror_rate",
	"srv_rerror_rate", "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate", "dst_host_count",
	"dst_host_srv_count", "dst_host_same_srv_rate", "dst_host_diff_srv_rate", "dst_host_same_src_port_rate",
	"dst_host_srv_diff_host_rate", "dst_host_serror_rate", "dst_host_srv_serror_rate", "dst_host_rerror_rate",
	"dst_host_srv_rerror_rate"}

// KDDRow is one NSL-KDD record.
type KDDRow struct {
	F      []string // the 41 feature columns as text
	Label  string   // without a trailing "."
	Attack bool     // Label != "normal"
}

// kddMaxLine bounds one record's line (real ones are ~150 bytes).
const kddMaxLine = 1 << 20

// ReadKDD reads NSL-KDD CSV rows: 41 features, label, optional difficulty.
// Blank lines are skipped; a file with more than limit rows, a row with the
// wrong column count or no rows at all is an error.
func ReadKDD(path string, limit int) ([]KDDRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening nsl-kdd file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), kddMaxLine)
	var out []KDDRow
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		cols := strings.Split(text, ",")
		if len(cols) != KDDFeatures+1 && len(cols) != KDDFeatures+2 {
			return nil, fmt.Errorf("%s:%d: %d columns, want %d or %d", path, line, len(cols), KDDFeatures+1, KDDFeatures+2)
		}
		if len(out) >= limit {
			return nil, fmt.Errorf("%s: more than %d rows", path, limit)
		}
		label := strings.TrimSuffix(cols[KDDFeatures], ".")
		out = append(out, KDDRow{F: cols[:KDDFeatures], Label: label, Attack: label != "normal"})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	return out, nil
}

// KDDLineage is the lineage of training rows: their content hash (each row
// as its 41 features and label, comma-joined) and counts of normal and
// attack rows.
func KDDLineage(rows []KDDRow) (contentHash string, counts map[string]int) {
	ch := model.NewContentHasher()
	counts = map[string]int{}
	for _, r := range rows {
		ch.Add([]byte(strings.Join(r.F, ",") + "," + r.Label))
		if r.Attack {
			counts["attack"]++
		} else {
			counts["normal"]++
		}
	}
	return ch.Sum(), counts
}

// KDDFeaturiser maps records to dense vectors: log1p of the 38 numeric
// columns, then one-hot slots for the categorical values seen when it was
// fitted. Mean and SD standardise the numeric part for the linear model.
type KDDFeaturiser struct {
	Cats     map[int]map[string]int // categorical column → value → one-hot slot
	Mean, SD []float64              // per numeric column, of log1p(value)
	Names    []string               // dense feature names
}

// FitKDDFeaturiser fits the featuriser on rows and returns it with the
// rows' dense vectors.
func FitKDDFeaturiser(rows []KDDRow) (*KDDFeaturiser, [][]float64, error) {
	z := &KDDFeaturiser{Cats: map[int]map[string]int{}}
	nNum := 0
	for j := 0; j < KDDFeatures; j++ {
		if !kddCategorical(j) {
			z.Names = append(z.Names, KDDColumns[j])
			nNum++
		}
	}
	// One-hot slots in sorted value order (deterministic).
	for _, j := range KDDCategorical {
		z.Cats[j] = map[string]int{}
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
			z.Cats[j][v] = len(z.Names)
			z.Names = append(z.Names, KDDColumns[j]+"="+v)
		}
	}
	z.Mean, z.SD = make([]float64, nNum), make([]float64, nNum)
	dense := make([][]float64, len(rows))
	for i, r := range rows {
		v, err := z.Raw(r)
		if err != nil {
			return nil, nil, fmt.Errorf("training row %d: %w", i+1, err)
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
		z.Mean[k] = s / n
		z.SD[k] = math.Sqrt(math.Max(s2/n-z.Mean[k]*z.Mean[k], 0))
		if z.SD[k] == 0 {
			z.SD[k] = 1
		}
	}
	return z, dense, nil
}

// Raw is the dense vector: log1p of numeric columns, then one-hot slots.
// An unseen category sets no slot (it is out of the training support).
func (z *KDDFeaturiser) Raw(r KDDRow) ([]float64, error) {
	if len(r.F) != KDDFeatures {
		return nil, fmt.Errorf("nsl-kdd row: %d features, want %d", len(r.F), KDDFeatures)
	}
	v := make([]float64, len(z.Names))
	k := 0
	for j := 0; j < KDDFeatures; j++ {
		if kddCategorical(j) {
			if slot, ok := z.Cats[j][r.F[j]]; ok {
				v[slot] = 1
			}
			continue
		}
		x, err := strconv.ParseFloat(r.F[j], 64)
		if err != nil || x < 0 || math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("column %s: bad value %q", KDDColumns[j], r.F[j])
		}
		v[k] = math.Log1p(x)
		k++
	}
	return v, nil
}

// Sparse standardises the numeric part of a Raw vector for the linear model.
func (z *KDDFeaturiser) Sparse(v []float64) linear.Sparse {
	var x linear.Sparse
	for j, val := range v {
		if j < len(z.Mean) {
			val = (val - z.Mean[j]) / z.SD[j]
		}
		if val != 0 {
			x.Idx = append(x.Idx, int32(j))
			x.Val = append(x.Val, val)
		}
	}
	return x
}

// Categories is Cats keyed by column name, as KDDParams stores it.
func (z *KDDFeaturiser) Categories() map[string]map[string]int {
	cats := map[string]map[string]int{}
	for j, vals := range z.Cats {
		cats[KDDColumns[j]] = vals
	}
	return cats
}

// KDDModel is the featuriser with the two models trained on its vectors:
// a logistic regression on all rows and an isolation forest on normal rows.
type KDDModel struct {
	KDDFeaturiser
	LR     *linear.Model
	Forest *iforest.Forest
}

// KDDParams is the serialised nsl-kdd model (the artifact's params, the
// same for the nsl-kdd eval suite and `rampart model train`).
type KDDParams struct {
	Categories map[string]map[string]int `json:"categories"` // column → value → slot
	Mean       []float64                 `json:"mean"`       // of log1p(numeric column)
	SD         []float64                 `json:"sd"`
	Features   []string                  `json:"features"`
	LR         *linear.Model             `json:"lr"`
	Forest     *iforest.Forest           `json:"forest"`
}

// Params is m in its serialised shape.
func (m *KDDModel) Params() KDDParams {
	return KDDParams{Categories: m.Categories(), Mean: m.Mean, SD: m.SD, Features: m.Names, LR: m.LR, Forest: m.Forest}
}

// FitKDD fits the featuriser, the classifier and the forest (seeded) on rows.
func FitKDD(rows []KDDRow, seed int64) (*KDDModel, error) {
	z, dense, err := FitKDDFeaturiser(rows)
	if err != nil {
		return nil, err
	}
	m := &KDDModel{KDDFeaturiser: *z}
	xs := make([]linear.Sparse, len(rows))
	ys := make([]float64, len(rows))
	var normal [][]float64
	for i, r := range rows {
		xs[i] = m.Sparse(dense[i])
		if r.Attack {
			ys[i] = 1
		} else {
			normal = append(normal, dense[i])
		}
	}
	if len(normal) == 0 {
		return nil, errors.New("training nsl-kdd: no normal rows")
	}
	if m.LR, err = linear.Train(xs, ys, len(m.Names), linear.Options{L2: 1e-5, MaxIter: 150, PosWeight: 1}); err != nil {
		return nil, fmt.Errorf("training nsl-kdd classifier: %w", err)
	}
	cfg := iforest.DefaultConfig()
	cfg.Seed = uint64(seed)
	if m.Forest, err = iforest.Fit(cfg, m.Names, normal); err != nil {
		return nil, fmt.Errorf("training nsl-kdd isolation forest: %w", err)
	}
	return m, nil
}
