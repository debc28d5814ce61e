package main

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/app"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/config"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
)

// BenchmarkAuditExport compares a clear and a pseudonymized export of a
// chain of 5000 alert records naming 500 users and hosts.
func BenchmarkAuditExport(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	st, err := sqlite.Open(ctx, dir, sqlite.Options{Audit: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	for i := range 50 {
		sigs, ids := make([]signal.Signal, 100), make([]string, 100)
		for j := range sigs {
			n := i*100 + j
			u, h := fmt.Sprintf("user%03d", n%500), fmt.Sprintf("ws-%03d.corp.lan", n%500)
			sigs[j] = signal.Signal{ID: fmt.Sprint("s", n), Detector: "sigma", Layer: signal.LayerRules, RuleID: "r", RuleVersion: "1",
				Title: "Login", Level: signal.LevelHigh, Time: now, Entities: []signal.Entity{{Kind: "user", Value: u}, {Kind: "host", Value: h},
					{Kind: "ip", Value: fmt.Sprintf("10.1.%d.%d", n%250, n%200)}}, Explanation: u + " logged in to " + h}
			ids[j] = fmt.Sprint("a", n)
		}
		if _, _, err := st.RecordSignals(ctx, sigs, ids); err != nil {
			b.Fatal(err)
		}
	}
	p, maps, err := app.OpenPrivacyBeside(dir, config.Default().Privacy.Config, now)
	if err != nil {
		b.Fatal(err)
	}
	defer maps.Close()
	b.Run("clear", func(b *testing.B) {
		for b.Loop() {
			if n, err := audit.Export(ctx, st.Audit(), io.Discard, audit.ExportOptions{}); err != nil || n != 5000 {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("pseudonymized", func(b *testing.B) {
		for b.Loop() {
			if n, err := exportPseudonymized(ctx, st.Audit(), io.Discard, audit.ExportOptions{}, p); err != nil || n != 5000 {
				b.Fatal(n, err)
			}
		}
	})
}
