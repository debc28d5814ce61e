package sigmabench

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/rampart-ids/rampart/internal/sigma"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// TestDumpSignals (RAMPART_SIGNAL_DUMP=file) writes every signal of the
// SigmaHQ Windows rules over the corpus as JSON lines, in event order: a
// speed change must leave the file byte-identical (cmp two builds' files).
func TestDumpSignals(t *testing.T) {
	out := os.Getenv("RAMPART_SIGNAL_DUMP")
	if out == "" {
		t.Skip("diagnostic: set RAMPART_SIGNAL_DUMP to an output file")
	}
	c := loadT(t)
	d, err := sigma.New(sigma.Options{Paths: []string{testutil.SharedData(t, "sigma/rules/windows")}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	var encErr error
	for _, ev := range c.events {
		_ = d.Detect(context.Background(), ev, func(s signal.Signal) {
			if err := enc.Encode(s); err != nil && encErr == nil {
				encErr = err
			}
		})
	}
	if err := w.Flush(); err != nil && encErr == nil {
		encErr = err
	}
	if err := f.Close(); err != nil && encErr == nil {
		encErr = err
	}
	if encErr != nil {
		t.Fatal(encErr)
	}
}
