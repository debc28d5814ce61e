package mleval

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-ids/rampart/internal/eval"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// copyLines writes lines [from, to) of src to dst (a header line is kept
// when keepHeader is set).
func copyLines(t *testing.T, src, dst string, from, to int, keepHeader bool) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for i := 0; sc.Scan(); i++ {
		if (keepHeader && i == 0) || (i >= from && i < to) {
			out.WriteString(sc.Text() + "\n")
		}
	}
}

// The suites read other data laid out like the shared folders: these tests
// build such folders from slices of the shared data and exercise the
// layout variants the shared copies lack (official test files).
func TestNSLKDDWithTestFiles(t *testing.T) {
	src := testutil.SharedData(t, "nsl-kdd")
	dir := t.TempDir()
	copyLines(t, filepath.Join(src, "KDDTrain+_20Percent.txt"), filepath.Join(dir, "KDDTrain+_20Percent.txt"), 0, 3000, false)
	copyLines(t, filepath.Join(src, "KDDTrain+_20Percent.txt"), filepath.Join(dir, "KDDTest+.txt"), 3000, 4000, false)
	copyLines(t, filepath.Join(src, "KDDTrain+_20Percent.txt"), filepath.Join(dir, "KDDTest-21.txt"), 4000, 4500, false)
	r, err := runNSLKDD(context.Background(), eval.Options{Data: dir, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	res := r.(*NSLKDDResult)
	if res.Main != "KDDTest+.txt" || len(res.Tests) != 2 {
		t.Fatalf("main %q, tests %v", res.Main, res.Tests)
	}
	j := res.JSON()
	if j["accuracy"] != res.Tests["KDDTest+.txt"].Accuracy {
		t.Errorf("top-level accuracy %v is not KDDTest+'s %v", j["accuracy"], res.Tests["KDDTest+.txt"].Accuracy)
	}
	if res.Tests["KDDTest+.txt"].N != 1000 || res.Tests["KDDTest+.txt"].Accuracy < 0.9 {
		t.Errorf("KDDTest+ %+v", res.Tests["KDDTest+.txt"])
	}
}

func TestHDFSWithNormalFile(t *testing.T) {
	src := testutil.SharedData(t, "hdfs-deeplog")
	dir := t.TempDir()
	copyLines(t, filepath.Join(src, "hdfs_train"), filepath.Join(dir, "hdfs_train"), 0, 3000, false)
	copyLines(t, filepath.Join(src, "hdfs_train"), filepath.Join(dir, "hdfs_test_normal"), 3000, 4000, false)
	copyLines(t, filepath.Join(src, "hdfs_test_abnormal"), filepath.Join(dir, "hdfs_test_abnormal"), 0, 500, false)
	r, err := runHDFS(context.Background(), eval.Options{Data: dir, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	res := r.(*HDFSResult)
	if res.HeldOut || res.Train != 3000 || res.TP+res.FN != 500 || res.FP+res.TN != 883 {
		t.Errorf("held out %v, train %d, abnormal %d, normal %d", res.HeldOut, res.Train, res.TP+res.FN, res.FP+res.TN)
	}
}

func TestHTTPParamsWithTestFile(t *testing.T) {
	src := testutil.SharedData(t, "http-params")
	dir := t.TempDir()
	// payload_train.csv is grouped by class; take every class into both files.
	in := filepath.Join(src, "payload_train.csv")
	copyLines(t, in, filepath.Join(dir, "payload_train.csv"), 1, 20000, true)
	copyLines(t, in, filepath.Join(dir, "payload_test.csv"), 20000, 20713, true)
	r, err := runHTTPParams(context.Background(), eval.Options{Data: dir, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	res := r.(*HTTPParamsResult)
	if res.Mode != "test" || res.N != 713 {
		t.Errorf("mode %q n %d, want test and 713", res.Mode, res.N)
	}
}

func TestSuitesRegistered(t *testing.T) {
	for _, n := range []string{"loghub", "hdfs", "http-params", "nsl-kdd", "zeek-flows"} {
		if _, err := eval.Lookup(n); err != nil {
			t.Error(err)
		}
	}
}
