package modelreg

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/testutil"
)

func artifactFor(name, version string) (*model.Artifact, error) {
	return model.New(model.Body{Kind: "test", Name: name, Version: version,
		Lineage: model.Lineage{ClassCounts: map[string]int{"normal": 1}, ContentHash: "sha256:00"}}, []int{1})
}

func artifact(t *testing.T, name, version string, p any) *model.Artifact {
	t.Helper()
	a, err := model.New(model.Body{Kind: "test", Name: name, Version: version,
		Lineage: model.Lineage{ClassCounts: map[string]int{"normal": 1}, ContentHash: "sha256:00"}}, p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestRegistrySaveLoadActivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "models")
	reg, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if es, err := reg.List(); err != nil || len(es) != 0 {
		t.Fatalf("list of a missing folder: %v %v", es, err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("reading created the registry folder")
	}
	if _, err := reg.Load("m", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("load before save: %v, want ErrNotFound", err)
	}
	v, err := reg.NextVersion("m")
	if err != nil || v != "1" {
		t.Fatalf("next version %q %v, want 1", v, err)
	}
	if _, active, err := reg.Save(artifact(t, "m", "1", []int{1}), false); err != nil || !active {
		t.Fatalf("first save: active %v err %v", active, err)
	}
	if _, _, err := reg.Save(artifact(t, "m", "1", []int{9}), false); err == nil {
		t.Fatal("overwriting a version succeeded")
	}
	// Version 10 sorts after 2 (numeric), and a later save does not steal activation.
	for _, ver := range []string{"2", "10"} {
		if _, active, err := reg.Save(artifact(t, "m", ver, []int{2}), false); err != nil || active {
			t.Fatalf("save %s: active %v err %v", ver, active, err)
		}
	}
	if v, _ := reg.NextVersion("m"); v != "11" {
		t.Fatalf("next version %q, want 11", v)
	}
	a, err := reg.Load("m", "")
	if err != nil || a.Body.Version != "1" {
		t.Fatalf("active load: %v %v", a, err)
	}
	if err := reg.Activate("m", "10"); err != nil {
		t.Fatal(err)
	}
	if v, _ := reg.Active("m"); v != "10" {
		t.Fatalf("active %q after Activate(10)", v)
	}
	es, err := reg.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		s := e.Name + "@" + e.Version
		if e.Active {
			s += "*"
		}
		if e.Error != "" {
			t.Errorf("%s: %s", s, e.Error)
		}
		got = append(got, s)
	}
	if strings.Join(got, " ") != "m@1 m@2 m@10*" {
		t.Fatalf("list %v", got)
	}
}

func TestRegistryRefusesTamperedAndSwapped(t *testing.T) {
	dir := t.TempDir()
	reg, _ := Open(dir)
	if _, _, err := reg.Save(artifact(t, "m", "1", map[string]float64{"w": 0.5}), false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := reg.Save(artifact(t, "other", "1", map[string]float64{"w": 0.7}), false); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "m", "1.model")
	orig, _ := os.ReadFile(p)
	// A flipped digit in the parameters: the hash no longer verifies.
	bad := []byte(strings.Replace(string(orig), "0.5", "0.6", 1))
	if err := os.WriteFile(p, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := reg.Load("m", "1")
	if !errors.Is(err, model.ErrHash) || !strings.Contains(err.Error(), p) {
		t.Fatalf("tampered load: %v, want ErrHash naming the file", err)
	}
	es, _ := reg.List()
	if len(es) != 2 || es[0].Name != "m" || !strings.Contains(es[0].Error, "hash mismatch") {
		t.Fatalf("list does not report the refusal: %+v", es)
	}
	if err := reg.Activate("m", "1"); err == nil {
		t.Fatal("activating a tampered model succeeded")
	}
	// Another model's valid file copied over this one: refused for its identity.
	other, _ := os.ReadFile(filepath.Join(dir, "other", "1.model"))
	os.WriteFile(p, other, 0o600)
	if _, err := reg.Load("m", "1"); err == nil || !strings.Contains(err.Error(), "holds other@1") {
		t.Fatalf("swapped load: %v", err)
	}
}

func TestParseRefAndNames(t *testing.T) {
	for _, tc := range []struct {
		ref, name, version string
		ok                 bool
	}{
		{"payload", "payload", "", true},
		{"payload@3", "payload", "3", true},
		{"nsl-kdd@v1.2", "nsl-kdd", "v1.2", true},
		{"../etc", "", "", false},
		{"Payload", "", "", false},
		{"payload@", "payload", "", true},
		{"payload@../x", "", "", false},
		{"", "", "", false},
	} {
		n, v, err := ParseRef(tc.ref)
		if (err == nil) != tc.ok || n != tc.name || v != tc.version {
			t.Errorf("ParseRef(%q) = %q %q %v", tc.ref, n, v, err)
		}
	}
}

// sliceFile copies the first n lines of src into dst.
func sliceFile(t *testing.T, src, dst string, n int) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	os.MkdirAll(filepath.Dir(dst), 0o755)
	if err := os.WriteFile(dst, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTrainDeterministic trains every kind twice on small slices of the
// shared data: one seed gives one artifact hash; lineage and metrics are filled.
func TestTrainDeterministic(t *testing.T) {
	root := testutil.SharedData(t, ".")
	tmp := t.TempDir()
	// http-params: the head of the file is benign only, so take a stride.
	data, err := os.ReadFile(filepath.Join(root, "http-params", "payload_train.csv"))
	if err != nil {
		t.Skip(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	var b strings.Builder
	b.WriteString(lines[0])
	for i := 1; i < len(lines); i += 10 {
		b.WriteString(lines[i])
	}
	os.MkdirAll(filepath.Join(tmp, "http"), 0o755)
	os.WriteFile(filepath.Join(tmp, "http", "payload_train.csv"), []byte(b.String()), 0o644)
	sliceFile(t, filepath.Join(root, "nsl-kdd", "KDDTrain+_20Percent.txt"), filepath.Join(tmp, "kdd", "KDDTrain+_20Percent.txt"), 3000)
	sliceFile(t, filepath.Join(root, "hdfs-deeplog", "hdfs_train"), filepath.Join(tmp, "hdfs", "hdfs_train"), 4000)
	sliceFile(t, filepath.Join(root, "hdfs-deeplog", "hdfs_test_abnormal"), filepath.Join(tmp, "hdfs", "hdfs_test_abnormal"), 300)
	sliceFile(t, filepath.Join(root, "loghub-2k", "OpenSSH", "OpenSSH_2k.log"), filepath.Join(tmp, "logs", "OpenSSH", "OpenSSH_2k.log"), 2000)
	sliceFile(t, filepath.Join(root, "loghub-2k", "Linux", "Linux_2k.log"), filepath.Join(tmp, "logs", "Linux", "Linux_2k.log"), 2000)

	created := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		kind, dir string
		metric    string
		min       float64
	}{
		{KindPayload, "http", "f1", 0.9},
		{KindNSLKDD, "kdd", "accuracy", 0.9},
		{KindHDFS, "hdfs", "recall", 0.8},
		{KindTemplates, "logs", "templates", 20},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			o := TrainOptions{Data: filepath.Join(tmp, tc.dir), Seed: 7, Created: created}
			a1, err := Train(context.Background(), tc.kind, o)
			if err != nil {
				t.Fatal(err)
			}
			a2, err := Train(context.Background(), tc.kind, o)
			if err != nil {
				t.Fatal(err)
			}
			if a1.Hash != a2.Hash {
				t.Fatalf("same seed, different artifacts: %s vs %s", a1.Hash, a2.Hash)
			}
			l := a1.Body.Lineage
			if len(l.Sources) == 0 || l.Sources[0].SHA256 == "" || l.ContentHash == "" || len(l.ClassCounts) == 0 || l.Seed != 7 {
				t.Fatalf("lineage incomplete: %+v", l)
			}
			if got := a1.Body.Metrics[tc.metric]; got < tc.min {
				t.Fatalf("metric %s = %v, want ≥ %v (all: %v)", tc.metric, got, tc.min, a1.Body.Metrics)
			}
			if len(a1.Body.Thresholds) == 0 {
				t.Fatal("no thresholds")
			}
			enc, err := a1.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := model.Decode(enc); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := Train(context.Background(), "bogus", TrainOptions{Data: tmp}); err == nil || !strings.Contains(err.Error(), "unknown model kind") {
		t.Fatalf("bogus kind: %v", err)
	}
	if _, err := Train(context.Background(), KindPayload, TrainOptions{Data: filepath.Join(tmp, "kdd")}); err == nil {
		t.Fatal("payload training on a folder without payload_train.csv succeeded")
	}
}
