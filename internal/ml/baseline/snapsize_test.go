package baseline

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// TestSnapshotScale measures snapshot size and time at 100k entities.
func TestSnapshotScale(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const n = 100000
	m, _ := New(Config{MaxEntities: n})
	for i := 0; i < n; i++ {
		m.Observe(Obs{Key: fmt.Sprint("user", i), Time: t0}, nil)
	}
	var buf bytes.Buffer
	start := time.Now()
	if err := m.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	start = time.Now()
	r, _ := New(Config{MaxEntities: n})
	if err := r.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d entities: snapshot %d bytes (%d per entity) in %v, restore in %v", n, buf.Len(), buf.Len()/n, took, time.Since(start))
	if r.Stats().Entities != n {
		t.Fatalf("restored %d entities", r.Stats().Entities)
	}
}
