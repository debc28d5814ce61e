package anomaly

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

// FuzzDetect drives both detectors with arbitrary field values and times
// (seeds in testdata/fuzz/FuzzDetect). Every signal must be in range and
// explained; nothing may panic.
func FuzzDetect(f *testing.F) {
	f.Add("alice", "203.0.113.7", "ws1", `c:\a.exe`, `c:\b.exe`, int64(443), "system.auth", "success", int64(0))
	f.Add("-", "::ffff:10.0.0.1", "", "", "/bin/sh", int64(-1), "zeek.conn", "failure", int64(1<<40))
	f.Fuzz(func(t *testing.T, user, ip, host, parent, child string, port int64, dataset, outcome string, step int64) {
		a, _ := NewAnomaly(AnomalyOptions{Baseline: baselineConfig("1m", "1m")})
		r, _ := NewRarity(RarityOptions{Learning: time.Minute})
		check := func(s signal.Signal) {
			if s.Score < 0 || s.Score > 1 || math.IsNaN(s.Score) || s.Explanation == "" || s.ID == "" || len(s.Entities) == 0 {
				t.Fatalf("bad signal %+v", s)
			}
		}
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := int64(0); i < 40; i++ {
			ev := event.New()
			ev.ID = "e"
			ev.Time = base.Add(time.Duration(i*(step%int64(time.Hour))) + time.Duration(i)*time.Minute)
			for k, v := range map[string]any{"user.name": user, "source.ip": ip, "host.name": host,
				"process.parent.executable": parent, "process.executable": child, "destination.port": port,
				"event.dataset": dataset, "event.outcome": outcome, "event.action": "ssh_login", "event.code": "4624"} {
				ev.Set(k, v)
			}
			if i > 20 {
				ev.Set("user.name", user+"x")
				ev.Set("source.ip", "198.51.100.1")
				ev.Set("destination.port", port+1)
			}
			a.Detect(context.Background(), ev, check)
			r.Detect(context.Background(), ev, check)
		}
	})
}
