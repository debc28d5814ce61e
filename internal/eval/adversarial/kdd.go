package adversarial

import (
	"encoding/csv"
	"errors"
	"fmt"
	"github.com/rampart-ids/rampart/internal/ml/dataset"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// NSL-KDD layout: KDDTrain+_20Percent.txt (or KDDTrain+.txt), 41 features,
// label, optional difficulty; attack_categories.csv optional.

const (
	kddFeatures = 41
	maxKDDRows  = 2_000_000
)

var kddCategorical = map[int]bool{1: true, 2: true, 3: true}

var kddColumns = dataset.KDDColumns

// kddRow is one NSL-KDD record (read by internal/ml/dataset).
type kddRow = dataset.KDDRow

// kddTrainFile finds the training file of an NSL-KDD folder.
func kddTrainFile(dir string) string {
	for _, n := range []string{"KDDTrain+_20Percent.txt", "KDDTrain+.txt"} {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func readKDD(path string, limit int) ([]kddRow, error) { return dataset.ReadKDD(path, limit) }

// readCategories reads attack_categories.csv (label,category,…) if present.
func readCategories(dir string) (map[string]string, error) {
	f, err := os.Open(filepath.Join(dir, "attack_categories.csv"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening attack categories: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(io.LimitReader(f, 1<<20))
	r.FieldsPerRecord = -1
	out := map[string]string{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading attack categories: %w", err)
		}
		if len(rec) >= 2 && rec[0] != "label" {
			out[rec[0]] = rec[1]
		}
	}
	return out, nil
}

// kddFeaturizer maps rows to dense vectors: log1p numeric columns, then
// one-hot slots for the categorical values seen when it was built.
type kddFeaturizer struct {
	cats  map[int]map[string]int
	names []string
}

func newKDDFeaturizer(rows []kddRow) *kddFeaturizer {
	z := &kddFeaturizer{cats: map[int]map[string]int{}}
	for j := 0; j < kddFeatures; j++ {
		if !kddCategorical[j] {
			z.names = append(z.names, kddColumns[j])
		}
	}
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
		z.cats[j] = map[string]int{}
		// The "?" slot marks a value never seen when the featurizer was
		// built: out of support by construction.
		keys = append(keys, "?")
		for _, v := range keys {
			z.cats[j][v] = len(z.names)
			z.names = append(z.names, kddColumns[j]+"="+v)
		}
	}
	return z
}

func (z *kddFeaturizer) vec(r kddRow) ([]float64, error) {
	v := make([]float64, len(z.names))
	k := 0
	for j := 0; j < kddFeatures; j++ {
		if kddCategorical[j] {
			slot, ok := z.cats[j][r.F[j]]
			if !ok || r.F[j] == "?" {
				slot = z.cats[j]["?"]
			}
			v[slot] = 1
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

func (z *kddFeaturizer) vecs(rows []kddRow) ([][]float64, error) {
	out := make([][]float64, len(rows))
	for i, r := range rows {
		v, err := z.vec(r)
		if err != nil {
			return nil, fmt.Errorf("row %d (%s): %w", i+1, r.Label, err)
		}
		out[i] = v
	}
	return out, nil
}
