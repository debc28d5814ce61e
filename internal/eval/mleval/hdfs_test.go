package mleval

import (
	"context"
	"os"
	"testing"

	"github.com/rampart-ids/rampart/internal/eval"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// TestHDFSSuite asserts what seed 2 measured (recall 0.9847, fp rate 0.0013
// on the held-back 20% of hdfs_train), minus a small margin.
func TestHDFSSuite(t *testing.T) {
	dir := testutil.SharedData(t, "hdfs-deeplog")
	r, err := runHDFS(context.Background(), eval.Options{Data: dir, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	res := r.(*HDFSResult)
	if testing.Verbose() {
		_ = res.Table(os.Stdout)
	}
	if res.Recall < 0.975 {
		t.Errorf("recall %.4f, want >= 0.975", res.Recall)
	}
	if res.FPRate > 0.005 {
		t.Errorf("fp rate %.4f, want <= 0.005", res.FPRate)
	}
	if !res.HeldOut {
		t.Error("expected a held-back split (no *normal* test file in hdfs-deeplog)")
	}
}
