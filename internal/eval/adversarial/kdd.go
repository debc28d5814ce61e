package adversarial

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// NSL-KDD layout: KDDTrain+_20Percent.txt (or KDDTrain+.txt), 41 features,
// label, optional difficulty; attack_categories.csv optional.

const (
	kddFeatures = 41
	maxKDDRows  = 2_000_000
)

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
	F      []string
	Label  string
	Attack bool
}

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

func readKDD(path string, limit int) ([]kddRow, error) {
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
		if len(out) >= limit {
			return nil, fmt.Errorf("%s: more than %d rows", path, limit)
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
