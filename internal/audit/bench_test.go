package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rampart-ids/rampart/internal/audit"
)

// BenchmarkVerify verifies a 10,000-record in-memory chain with a
// checkpoint every 100 records.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	m := audit.NewMemory(nil)
	k, err := audit.OpenKeyRing(filepath.Join(b.TempDir(), audit.KeyFileName), t0)
	if err != nil {
		b.Fatal(err)
	}
	l := audit.New(m, k, audit.Options{CheckpointEvery: 100, AnchorPath: filepath.Join(b.TempDir(), "a.json")})
	const n = 10000
	for i := range n {
		if _, err := l.Record(ctx, audit.Record{Actor: "component:bench", Action: audit.ActionAlertCreated, SubjectKind: "alert",
			SubjectID: fmt.Sprint(i), InputDigest: audit.Digest([]byte(fmt.Sprint(i))), Versions: map[string]string{"rule": "r@1"},
			Explanation: "5 failed logins for root from 203.0.113.9 in 60s"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		rep, err := l.Verify(ctx)
		if err != nil || !rep.OK {
			b.Fatalf("%+v %v", rep, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
