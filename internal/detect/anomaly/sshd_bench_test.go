package anomaly

import (
	"context"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/format/auth/authtest"
	"github.com/rampart-ids/rampart/internal/signal"
)

// benchSSHD is the sshd replay's cost per event in d: the Loghub sample
// repeated, each lap shifted past the last so event time moves forward.
//
//	go test -run '^$' -bench SSHD -benchmem ./internal/detect/anomaly/
func benchSSHD(b *testing.B, d detect.Detector) {
	evs := authtest.LoghubOpenSSH(b, 2026)
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
