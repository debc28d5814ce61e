package storetest

import (
	"context"
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store"
)

// BenchEvents returns n distinct events shaped like parsed sshd auth lines
// (17 fields, ~120 raw bytes); prefix keeps ids unique across calls.
func BenchEvents(prefix string, n int) []*event.Event {
	evs := make([]*event.Event, n)
	for i := range evs {
		raw := fmt.Appendf(nil, "Nov 27 09:%02d:%02d web01 sshd[%d]: Failed password for invalid user admin%d from 203.0.113.%d port %d ssh2",
			i/60%60, i%60, 1000+i%5000, i%97, i%254+1, 40000+i%20000)
		evs[i] = &event.Event{
			ID:       event.DeriveID("file:/var/log/auth.log", prefix+fmt.Sprint(i), raw),
			Time:     base.Add(time.Duration(i) * time.Millisecond),
			Received: base.Add(time.Duration(i) * time.Millisecond),
			Source:   "file:/var/log/auth.log",
			Format:   "syslog",
			Fields: map[string]any{
				"message":                  string(raw[28:]),
				"event.module":             "system",
				"event.dataset":            "system.auth",
				"event.category":           []string{"authentication"},
				"event.outcome":            "failure",
				"event.action":             "ssh_invalid_user",
				"host.hostname":            "web01",
				"process.name":             "sshd",
				"process.pid":              int64(1000 + i%5000),
				"user.name":                fmt.Sprintf("admin%d", i%97),
				"source.ip":                fmt.Sprintf("203.0.113.%d", i%254+1),
				"source.port":              int64(40000 + i%20000),
				"ssh.method":               "password",
				"related.ip":               []string{fmt.Sprintf("203.0.113.%d", i%254+1)},
				"log.syslog.appname":       "sshd",
				"log.syslog.severity.code": int64(6),
				"event.risk_score":         0.25,
			},
			Raw: raw,
		}
	}
	return evs
}

// BenchAppendEvents measures AppendEvents with batches of batch new events
// and reports rows/s (wall clock) and rows per CPU-second of this process
// (steadier on a loaded machine; for a client/server store it leaves out
// the server's CPU).
func BenchAppendEvents(b *testing.B, s store.Store, batch int) {
	ctx := context.Background()
	tmpl := BenchEvents("tmpl", batch)
	evs := make([]*event.Event, batch)
	copies := make([]event.Event, batch)
	n := 0
	cpu0 := cpuTime()
	b.ReportAllocs()
	for b.Loop() {
		for j, t := range tmpl {
			copies[j] = *t
			copies[j].ID = strconv.Itoa(n) + "-" + t.ID[:16] // unique per row
			evs[j] = &copies[j]
			n++
		}
		if err := s.AppendEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
	if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
		b.ReportMetric(float64(n)/cpu, "rows/cpu-s")
	}
}

// BenchAppendBatches appends evs (given ids made unique per pass) in
// batches of batch events, and reports rows/s and rows/cpu-s.
func BenchAppendBatches(b *testing.B, s store.Store, evs []*event.Event, batch int) {
	ctx := context.Background()
	copies := make([]event.Event, len(evs))
	ptrs := make([]*event.Event, len(evs))
	n, pass := 0, 0
	cpu0 := cpuTime()
	b.ReportAllocs()
	for b.Loop() {
		start := n % len(evs)
		if start == 0 {
			pass++
		}
		end := min(start+batch, len(evs))
		for j := start; j < end; j++ {
			copies[j] = *evs[j]
			copies[j].ID = strconv.Itoa(pass) + "-" + evs[j].ID
			ptrs[j] = &copies[j]
		}
		if err := s.AppendEvents(ctx, ptrs[start:end]); err != nil {
			b.Fatal(err)
		}
		n += end - start
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
	if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
		b.ReportMetric(float64(n)/cpu, "rows/cpu-s")
	}
}

// cpuTime is the user+system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchRecordSignals measures RecordSignals with batches of batch new
// signals spread over alerts distinct alerts (so most inputs fold into an
// existing alert), and reports signals/s.
func BenchRecordSignals(b *testing.B, s store.Store, batch, alerts int) {
	ctx := context.Background()
	n := 0
	sigs := make([]signal.Signal, batch)
	ids := make([]string, batch)
	cpu0 := cpuTime()
	b.ReportAllocs()
	for b.Loop() {
		for j := range sigs {
			user := fmt.Sprintf("user%d", n%alerts)
			sig := mkSig(fmt.Sprintf("sig%d", n), "r1", base.Add(time.Duration(n)*time.Millisecond), fmt.Sprintf("ev%d", n))
			sig.Entities = []signal.Entity{{Kind: "user", Value: user}, {Kind: "host", Value: "web01"}}
			sigs[j], ids[j] = sig, "alert-"+user
			n++
		}
		if _, _, err := s.RecordSignals(ctx, sigs, ids); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "signals/s")
	if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
		b.ReportMetric(float64(n)/cpu, "signals/cpu-s")
	}
}
