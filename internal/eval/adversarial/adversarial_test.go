package adversarial

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rampart-ids/rampart/internal/eval"
	"github.com/rampart-ids/rampart/internal/ml/guard"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// slice copies the first n lines of src to dst.
func slice(t *testing.T, src, dst string, n int) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for i := 0; i < n && sc.Scan(); i++ {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	if err := os.WriteFile(dst, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func runJSON(t *testing.T, dir string, seed int64) map[string]any {
	t.Helper()
	r, err := run(context.Background(), eval.Options{Data: dir, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	// Round-trip through JSON as `rampart eval --json` does.
	raw, err := json.Marshal(r.JSON())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if err := r.Table(&strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	return m
}

// checkCommon checks the documented keys every layout reports.
func checkCommon(t *testing.T, m map[string]any) {
	t.Helper()
	pois, _ := m["poisoning"].([]any)
	if len(pois) != len(PoisonRates) {
		t.Fatalf("poisoning %v", m["poisoning"])
	}
	for i, p := range pois {
		pm := p.(map[string]any)
		if pm["rate"].(float64) != PoisonRates[i] {
			t.Errorf("poisoning[%d] rate %v", i, pm["rate"])
		}
		for _, k := range []string{"recall_defended", "recall_naive"} {
			if v, ok := pm[k].(float64); !ok || v < 0 || v > 1 {
				t.Errorf("poisoning[%d] %s = %v", i, k, pm[k])
			}
		}
	}
	if _, ok := m["poisoning_void"].(bool); !ok {
		t.Error("no poisoning_void")
	}
	ev, _ := m["evasion"].([]any)
	if len(ev) == 0 {
		t.Error("no evasion results")
	}
	for _, e := range ev {
		em := e.(map[string]any)
		if em["attack"] == "" || em["stack_recall"].(float64) < em["ml_recall"].(float64) {
			t.Errorf("evasion %v: the stack includes the ML, so it cannot catch less", em)
		}
	}
	if m["tamper_trials"].(float64) < 100 || m["tamper_refused"] != m["tamper_trials"] {
		t.Errorf("tamper %v / %v", m["tamper_refused"], m["tamper_trials"])
	}
	if fp := m["ood_false_flag_rate"].(float64); fp > 0.03 {
		t.Errorf("ood false flag rate %v on in-distribution data", fp)
	}
	if _, ok := m["ood_flag_rate"].(float64); !ok {
		t.Error("no ood_flag_rate")
	}
}

// small shrinks model sizes for CI; the code path is the same.
func small(t *testing.T) {
	old := size
	size = scale{trees: 30, guardTrees: 30, guardRef: 1000, tamperTrials: 100}
	t.Cleanup(func() { size = old })
}

// TestKDDSlice runs the suite on a slice of NSL-KDD: keys, invariants,
// determinism for a seed, and the poisoning goal at this scale.
func TestKDDSlice(t *testing.T) {
	small(t)
	src := testutil.SharedData(t, "nsl-kdd")
	dir := t.TempDir()
	slice(t, filepath.Join(src, "KDDTrain+_20Percent.txt"), filepath.Join(dir, "KDDTrain+_20Percent.txt"), 4000)
	slice(t, filepath.Join(src, "attack_categories.csv"), filepath.Join(dir, "attack_categories.csv"), 1000)
	a := runJSON(t, dir, 7)
	checkCommon(t, a)
	pois := a["poisoning"].([]any)
	clean, ten := pois[0].(map[string]any), pois[2].(map[string]any)
	if a["poisoning_void"] == false {
		if loss := clean["recall_defended"].(float64) - ten["recall_defended"].(float64); loss > 0.05 {
			t.Errorf("defended recall lost %.3f at 10%% poisoning, goal ≤ 0.05", loss)
		}
	}
	ind, ok := a["ood_indistinguishable"].(float64)
	if !ok || ind < 0 || ind > 1 {
		t.Errorf("ood_indistinguishable %v", a["ood_indistinguishable"])
	}
	for k, v := range a["ood_held_out"].(map[string]any) {
		if x, ok := v.(map[string]any)["indistinguishable"].(float64); !ok || x < 0 || x > 1 {
			t.Errorf("held out %s: indistinguishable %v", k, v)
		}
	}
	b := runJSON(t, dir, 7)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different result (-first +second):\n%s", diff)
	}
}

func TestLayoutErrors(t *testing.T) {
	if _, err := run(context.Background(), eval.Options{Data: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "payload_train.csv") {
		t.Errorf("empty dir: %v", err)
	}
	if _, err := run(context.Background(), eval.Options{}); err == nil {
		t.Error("no --data accepted")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "KDDTrain+_20Percent.txt"), []byte("1,2,3\n"), 0o644)
	if _, err := run(context.Background(), eval.Options{Data: dir}); err == nil || !strings.Contains(err.Error(), "columns") {
		t.Errorf("bad kdd file: %v", err)
	}
}

func TestKDDFull(t *testing.T) {
	if os.Getenv("RAMPART_ADV_FULL") == "" {
		t.Skip("set RAMPART_ADV_FULL=1 for the full-data run")
	}
	dir := testutil.SharedData(t, "nsl-kdd")
	r, err := run(context.Background(), eval.Options{Data: dir, Seed: 1, Progress: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	r.Table(os.Stderr)
}

func TestPayloadFull(t *testing.T) {
	if os.Getenv("RAMPART_ADV_FULL") == "" {
		t.Skip("set RAMPART_ADV_FULL=1 for the full-data run")
	}
	dir := testutil.SharedData(t, "http-params")
	r, err := run(context.Background(), eval.Options{Data: dir, Seed: 1, Progress: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	r.Table(os.Stderr)
}

// TestPayloadSlice runs the suite on a slice of http-params.
func TestPayloadSlice(t *testing.T) {
	small(t)
	src := testutil.SharedData(t, "http-params")
	dir := t.TempDir()
	// The file is sorted by nothing useful; a stride keeps every attack type.
	f, err := os.ReadFile(filepath.Join(src, "payload_train.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(f), "\n")
	var b strings.Builder
	b.WriteString(lines[0])
	for i := 1; i < len(lines); i += 5 {
		b.WriteString(lines[i])
	}
	if err := os.WriteFile(filepath.Join(dir, "payload_train.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	m := runJSON(t, dir, 3)
	checkCommon(t, m)
	if m["layout"] != "http-params" {
		t.Errorf("layout %v", m["layout"])
	}
	ev := m["evasion"].([]any)
	if len(ev) < 6 {
		t.Errorf("want none, case, encodings, comments, whitespace, mimicry; got %d", len(ev))
	}
	// Targeted label flipping must hurt the naive model (else the result
	// is void) and the defences must hold recall within 5 points.
	pois := m["poisoning"].([]any)
	clean, ten := pois[0].(map[string]any), pois[2].(map[string]any)
	if m["poisoning_void"] != false {
		t.Errorf("poisoning void: %v", m["poisoning_void_reason"])
	}
	if loss := clean["recall_defended"].(float64) - ten["recall_defended"].(float64); loss > 0.05 {
		t.Errorf("defended recall lost %.3f at 10%% poisoning, goal ≤ 0.05", loss)
	}
	if again := runJSON(t, dir, 3); !cmp.Equal(m, again) {
		t.Errorf("same seed, different result:\n%s", cmp.Diff(m, again))
	}
}

func TestHDFSFull(t *testing.T) {
	if os.Getenv("RAMPART_ADV_FULL") == "" {
		t.Skip("set RAMPART_ADV_FULL=1 for the full-data run")
	}
	dir := testutil.SharedData(t, "hdfs-deeplog")
	r, err := run(context.Background(), eval.Options{Data: dir, Seed: 1, Progress: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	r.Table(os.Stderr)
}

// TestHDFSSlice runs the suite on a slice of hdfs-deeplog.
func TestHDFSSlice(t *testing.T) {
	small(t)
	src := testutil.SharedData(t, "hdfs-deeplog")
	dir := t.TempDir()
	slice(t, filepath.Join(src, "hdfs_train"), filepath.Join(dir, "hdfs_train"), 2000)
	slice(t, filepath.Join(src, "hdfs_test_abnormal"), filepath.Join(dir, "hdfs_test_abnormal"), 800)
	m := runJSON(t, dir, 5)
	checkCommon(t, m)
	if m["layout"] != "hdfs" {
		t.Errorf("layout %v", m["layout"])
	}
}

// TestIndistinguishable: held-out inputs equal to a training input are
// counted (each time they occur), near ones are not.
func TestIndistinguishable(t *testing.T) {
	train := [][]float64{{0, 1, 2}, {3, 4, 5}}
	out := [][]float64{{0, 1, 2}, {0, 1, 2.0000001}, {3, 4, 5}, {5, 4, 3}}
	got, err := indistinguishable(train, out, func(v []float64) ([]float64, error) { return v, nil })
	if err != nil || got != 0.5 {
		t.Errorf("indistinguishable = %v (%v), want 0.5", got, err)
	}
}

// BenchmarkKDDGuardCheck is the per-connection cost of the input guard on
// NSL-KDD vectors (fitted on 70% of the file, checking the rest), with the
// default configuration and with the record configuration the suite uses.
func BenchmarkKDDGuardCheck(b *testing.B) {
	dir := testutil.SharedData(b, "nsl-kdd")
	rows, err := readKDD(kddTrainFile(dir), maxKDDRows)
	if err != nil {
		b.Fatal(err)
	}
	var train, test []kddRow
	for i, r := range rows {
		if i%10 < 7 {
			train = append(train, r)
		} else {
			test = append(test, r)
		}
	}
	z := newKDDFeaturizer(train)
	tv, err := z.vecs(train)
	if err != nil {
		b.Fatal(err)
	}
	xs, err := z.vecs(test)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cfg  guard.Config
	}{{"default", guardConfig(1)}, {"record", kddGuardConfig(1)}} {
		g, err := guard.Fit(c.cfg, z.names, tv)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := g.Check(xs[i%len(xs)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
