package privacy

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// BenchmarkEvent pseudonymizes real Windows events (the first file of
// each ATT&CK folder that has at least 20 events, up to 2,000 events).
func BenchmarkEvent(b *testing.B) {
	root := testutil.SharedData(b, "windows-evtx/jsonl/EVTX-ATTACK-SAMPLES")
	var evs []*event.Event
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(path, ".jsonl") || len(evs) >= 2000 {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return nil
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 4<<20)
		for sc.Scan() && len(evs) < 2000 {
			if ev, err := winEvent(sc.Bytes()); err == nil {
				evs = append(evs, ev)
			}
		}
		return nil
	})
	for _, mode := range []string{RawDrop, RawScrub} {
		b.Run("raw="+mode, func(b *testing.B) {
			p, _, _, _ := newTestPseudonymizer(b, Config{Raw: mode})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p.Event(evs[i%len(evs)])
				i++
			}
		})
	}
}
