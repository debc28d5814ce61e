package ids_test

import (
	"context"
	"os"
	"testing"

	"github.com/rampart-ids/rampart/internal/detect/ids"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/signal"
)

// FuzzDetect feeds arbitrary EVE-like records through the eve parser and
// the detector: never a panic, at most one signal, always a known level and
// the event as its only evidence.
func FuzzDetect(f *testing.F) {
	data, err := os.ReadFile("testdata/eve.in")
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range splitLines(data) {
		f.Add(line)
	}
	fm, _ := format.Lookup("eve")
	d, err := ids.New(ids.Config{MinLevel: signal.LevelInformational})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		ev := event.New()
		ev.ID = "fuzz"
		if fm.NewParser(format.Options{}).Parse(rec, ev) != nil {
			return
		}
		n := 0
		_ = d.Detect(context.Background(), ev, func(s signal.Signal) {
			n++
			if s.Level.Rank() < 0 || len(s.EventIDs) != 1 || s.Explanation == "" {
				t.Errorf("signal %+v", s)
			}
		})
		if n > 1 {
			t.Errorf("%d signals for one record", n)
		}
	})
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i > 0 {
			out = append(out, b[:i])
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return out
}
