package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/testutil"
)

// runModel runs `rampart model args...` in-process.
func runModel(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newModelCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func headLines(t *testing.T, src, dst string, n, stride int) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Skip(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	var b strings.Builder
	b.WriteString(lines[0])
	for i := 1; i < len(lines) && i < n*stride; i += stride {
		b.WriteString(lines[i])
	}
	os.MkdirAll(filepath.Dir(dst), 0o755)
	if err := os.WriteFile(dst, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestModelCommands(t *testing.T) {
	shared := testutil.SharedData(t, ".")
	tmp := t.TempDir()
	models := filepath.Join(tmp, "models")
	headLines(t, filepath.Join(shared, "http-params", "payload_train.csv"), filepath.Join(tmp, "http", "payload_train.csv"), 2000, 10)
	headLines(t, filepath.Join(shared, "nsl-kdd", "KDDTrain+_20Percent.txt"), filepath.Join(tmp, "kdd", "KDDTrain+_20Percent.txt"), 2000, 1)
	headLines(t, filepath.Join(shared, "hdfs-deeplog", "hdfs_train"), filepath.Join(tmp, "hdfs", "hdfs_train"), 4000, 1)
	headLines(t, filepath.Join(shared, "loghub-2k", "OpenSSH", "OpenSSH_2k.log"), filepath.Join(tmp, "logs", "OpenSSH", "OpenSSH_2k.log"), 2000, 1)

	for _, tc := range []struct{ kind, dir, want string }{
		{"payload", "http", "trained payload@1 (payload-lr)"},
		{"nsl-kdd", "kdd", "trained nsl-kdd@1 (nsl-kdd)"},
		{"hdfs", "hdfs", "trained hdfs@1 (seq)"},
		{"loghub-templates", "logs", "trained sshd@1 (drain)"},
	} {
		args := []string{"train", "--kind", tc.kind, "--data", filepath.Join(tmp, tc.dir), "--models", models, "--seed", "3"}
		if tc.kind == "loghub-templates" {
			args = append(args, "--name", "sshd")
		}
		out, err := runModel(t, args...)
		if err != nil || !strings.Contains(out, tc.want) || !strings.Contains(out, ", active") {
			t.Fatalf("train %s: %v\n%s", tc.kind, err, out)
		}
	}
	// A second payload version is stored but not activated.
	out, err := runModel(t, "train", "--kind", "payload", "--data", filepath.Join(tmp, "http"), "--models", models, "--seed", "4")
	if err != nil || !strings.Contains(out, "payload@2") || !strings.Contains(out, "not active") {
		t.Fatalf("second train: %v\n%s", err, out)
	}

	out, err = runModel(t, "list", "--json", "--models", models)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Models []struct {
			Name, Version, Kind, Hash, Error string
			Active                           bool
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	var got []string
	for _, m := range list.Models {
		s := m.Name + "@" + m.Version + ":" + m.Kind
		if m.Active {
			s += "*"
		}
		if m.Error != "" || !strings.HasPrefix(m.Hash, "sha256:") {
			t.Errorf("%s: hash %q error %q", s, m.Hash, m.Error)
		}
		got = append(got, s)
	}
	if want := "hdfs@1:seq* nsl-kdd@1:nsl-kdd* payload@1:payload-lr* payload@2:payload-lr sshd@1:drain*"; strings.Join(got, " ") != want {
		t.Fatalf("list: %v, want %s", got, want)
	}
	out, err = runModel(t, "list", "--models", models)
	if err != nil || !regexp.MustCompile(`(?m)^payload\s+2\s+payload-lr\s`).MatchString(out) {
		t.Fatalf("list table: %v\n%s", err, out)
	}

	out, err = runModel(t, "inspect", "payload", "--json", "--models", models)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Name, Version, Hash string
		Active              bool
		Features            []string
		Lineage             struct {
			Sources     []struct{ Name, SHA256 string }
			ClassCounts map[string]int `json:"class_counts"`
			Exclusions  []struct{ Reason string }
			ContentHash string `json:"content_hash"`
			Seed        int64
		}
		Metrics, Thresholds map[string]float64
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v.Version != "1" || !v.Active || v.Lineage.Seed != 3 || v.Lineage.ClassCounts["norm"] == 0 || v.Lineage.ContentHash == "" ||
		len(v.Lineage.Exclusions) == 0 || v.Metrics["f1"] < 0.8 || v.Thresholds["unseen_share"] <= 0 || len(v.Features) == 0 {
		t.Fatalf("inspect payload: %s", out)
	}
	out, err = runModel(t, "inspect", "nsl-kdd@1", "--models", models)
	for _, want := range []string{"model nsl-kdd@1 (nsl-kdd), active", "(verified)", "training window:", "KDDTrain+_20Percent.txt", "counts: attack=",
		"excluded:", "metrics (held-out): accuracy=", "thresholds: forest=", "features (", "src_bytes"} {
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("inspect table lacks %q: %v\n%s", want, err, out)
		}
	}

	// A tampered file is refused by inspect and flagged by list.
	p := filepath.Join(models, "hdfs", "1.model")
	data, _ := os.ReadFile(p)
	i := bytes.Index(data, []byte(`"threshold":`)) + len(`"threshold":`)
	if data[i] == '9' {
		data[i] = '8'
	} else {
		data[i] = '9'
	}
	os.WriteFile(p, data, 0o600)
	if _, err := runModel(t, "inspect", "hdfs", "--models", models); err == nil || !strings.Contains(err.Error(), "hash mismatch") {
		t.Fatalf("inspect tampered: %v", err)
	}
	out, _ = runModel(t, "list", "--models", models)
	if !strings.Contains(out, "REFUSED") {
		t.Fatalf("list does not flag the tampered file:\n%s", out)
	}
	// Bad input: clear errors.
	for _, args := range [][]string{
		{"train", "--kind", "nope", "--data", tmp, "--models", models},
		{"train", "--kind", "payload", "--data", filepath.Join(tmp, "missing"), "--models", models},
		{"inspect", "../x", "--models", models},
		{"inspect", "nothere", "--models", models},
	} {
		if _, err := runModel(t, args...); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}
