package pipeline_test

import (
	"bufio"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/app"
	"github.com/rampart-ids/rampart/internal/ingest"
	"github.com/rampart-ids/rampart/internal/pipeline"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// BenchmarkPipelineWindows pushes real Windows events (the windows-evtx JSONL
// corpus, cycled) through parse → bundled rule layer → SQLite, every event stored.
func BenchmarkPipelineWindows(b *testing.B) {
	dir := testutil.SharedData(b, "windows-evtx/jsonl")
	var lines [][]byte
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".jsonl") || len(lines) > 20000 {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines = append(lines, append([]byte(nil), sc.Bytes()...))
		}
		return nil
	})
	eng, cleanup, err := app.BuildEngine(context.Background(), app.RuleSet{})
	if err != nil {
		b.Fatal(err)
	}
	defer cleanup()
	st := openStore(b)
	p, err := pipeline.New(pipeline.Options{Engine: eng, Store: st, StoreAllEvents: os.Getenv("BENCH_EVIDENCE") == "", BatchSize: batchSize()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	cpu0 := cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	batch := make([]ingest.Record, 0, 256)
	for b.Loop() {
		batch = append(batch, ingest.Record{Source: "bench", Position: strconv.Itoa(n), Data: lines[n%len(lines)]})
		n++
		if len(batch) == cap(batch) {
			if err := p.Submit(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	_ = p.Submit(ctx, batch)
	if err := p.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	// Steadier than events/s on a shared machine: CPU of every goroutine
	// (parse, detect, store, background checkpoints) per event.
	if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
		b.ReportMetric(float64(n)/cpu, "events/cpu-s")
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

func batchSize() int {
	n, _ := strconv.Atoi(os.Getenv("BENCH_BATCH"))
	return n
}
