package flowscan_test

import (
	"bytes"
	"testing"

	"github.com/rampart-ids/rampart/internal/detect/flowscan"
)

// FuzzRestore: a snapshot file is input from disk; any bytes are refused
// or restored, never a panic, and a refused one leaves the state empty.
func FuzzRestore(f *testing.F) {
	d := flowscan.New(flowscan.Config{MinReference: 500, Reference: 50}, nil)
	run(d, stream()[:700])
	var buf bytes.Buffer
	if err := d.Snapshot(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"sha256":"","state":{}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := flowscan.New(flowscan.Config{Reference: 50}, nil)
		if err := c.Restore(bytes.NewReader(data)); err != nil && c.Stats().Reference != 0 {
			t.Errorf("refused snapshot changed the state: %v", err)
		}
		if c.Stats().Reference > 50 {
			t.Errorf("reservoir %d over its bound", c.Stats().Reference)
		}
	})
}
