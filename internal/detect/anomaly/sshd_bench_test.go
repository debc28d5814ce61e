package anomaly

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/auth"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// sshdEvents parses the shared Loghub OpenSSH sample with the auth parser.
func sshdEvents(tb testing.TB) []*event.Event {
	tb.Helper()
	f, err := os.Open(filepath.Join(testutil.SharedData(tb, "loghub-2k"), "OpenSSH", "OpenSSH_2k.log"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	p := auth.Format{}.NewParser(format.Options{Year: 2026})
	var evs []*event.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ev := event.New()
		if p.Parse(sc.Bytes(), ev) == nil && !ev.Time.IsZero() {
			evs = append(evs, ev)
		}
	}
	if len(evs) < 1000 {
		tb.Fatalf("parsed %d sshd events", len(evs))
	}
	return evs
}

// benchSSHD is the sshd replay's cost per event in d: the Loghub sample
// repeated, each lap shifted past the last so event time moves forward.
//
//	go test -run '^$' -bench SSHD -benchmem ./internal/detect/anomaly/
func benchSSHD(b *testing.B, d detect.Detector) {
	evs := sshdEvents(b)
	lap := evs[len(evs)-1].Time.Sub(evs[0].Time) + time.Minute
	base := make([]time.Time, len(evs))
	for i, ev := range evs {
		base[i] = ev.Time
	}
	emit := func(signal.Signal) {}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		j := i % len(evs)
		evs[j].Time = base[j].Add(time.Duration(i/len(evs)) * lap)
		d.Detect(context.Background(), evs[j], emit)
		i++
	}
}

func BenchmarkAnomalySSHD(b *testing.B) {
	a, _ := NewAnomaly(AnomalyOptions{})
	benchSSHD(b, a)
}

func BenchmarkRaritySSHD(b *testing.B) {
	r, _ := NewRarity(RarityOptions{})
	benchSSHD(b, r)
}
