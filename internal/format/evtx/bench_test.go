package evtx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	velocidex "www.velocidex.com/golang/evtx"

	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/testutil"
)

type corpusFile struct {
	name string
	data []byte
}

var (
	corpusOnce sync.Once
	corpus     []corpusFile
)

// loadCorpus reads every .evtx of the shared windows-evtx corpus into memory
// (54 MB), so that the benchmark measures parsing, not the disk.
func loadCorpus(b testing.TB) []corpusFile {
	dir := testutil.SharedData(b, "windows-evtx/hayabusa-sample-evtx")
	corpusOnce.Do(func() {
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.EqualFold(filepath.Ext(p), ".evtx") {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			corpus = append(corpus, corpusFile{name: p, data: data})
			return nil
		})
	})
	if len(corpus) == 0 {
		b.Skip("no .evtx files in the shared corpus")
	}
	return corpus
}

// readRampart reads every record of data; it returns the record count.
func readRampart(data []byte) (int, error) {
	r, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		_, err := r.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		var re *format.RecordError
		if errors.As(err, &re) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

// readVelocidex parses every record with www.velocidex.com/golang/evtx
// v0.2.0; toJSON also encodes each record, as Rampart's output is JSON.
func readVelocidex(data []byte, toJSON bool) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("velocidex panic: %v", r)
		}
	}()
	chunks, err := velocidex.GetChunks(bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	for _, c := range chunks {
		recs, err := c.Parse(0)
		if err != nil {
			return n, err
		}
		for _, r := range recs {
			if toJSON {
				if _, err := json.Marshal(r.Event); err != nil {
					return n, err
				}
			}
			n++
		}
	}
	return n, nil
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReadCorpus reads the whole shared corpus per iteration and
// reports records/s (one goroutine, so per core). The velocidex
// sub-benchmarks run the Velocidex reader in-process on the files it parses
// without error, beside Rampart on the same files, so the ratio can be read
// off: `go test -run '^$' -bench ReadCorpus -benchtime 3x ./internal/format/evtx/`.
func BenchmarkReadCorpus(b *testing.B) {
	all := loadCorpus(b)
	var (
		vOnce  sync.Once
		vfiles []corpusFile
	)
	// Files the Velocidex reader parses without error; found only when a
	// sub-benchmark needs them.
	velocidexReadable := func() []corpusFile {
		vOnce.Do(func() {
			for _, f := range all {
				if n, err := readVelocidex(f.data, false); err == nil && n > 0 {
					vfiles = append(vfiles, f)
				}
			}
		})
		return vfiles
	}
	allFiles := func() []corpusFile { return all }
	run := func(name string, filesOf func() []corpusFile, read func([]byte) (int, error)) {
		b.Run(name, func(b *testing.B) {
			files := filesOf()
			b.ReportAllocs()
			var bytesN int64
			for _, f := range files {
				bytesN += int64(len(f.data))
			}
			b.SetBytes(bytesN)
			recs := 0
			start, cpu0 := time.Now(), cpuTime()
			for b.Loop() {
				for _, f := range files {
					n, _ := read(f.data)
					recs += n
				}
			}
			b.ReportMetric(float64(recs)/time.Since(start).Seconds(), "records/s")
			// On a shared machine wall time overstates the cost; CPU time of
			// the process (parser and GC) is the per-core figure.
			b.ReportMetric(float64(recs)/(cpuTime()-cpu0).Seconds(), "records/cpu-s")
			b.ReportMetric(float64(recs)/float64(b.N), "records/op")
		})
	}
	run("rampart/all", allFiles, readRampart)
	run("rampart/velocidex-readable", velocidexReadable, readRampart)
	run("velocidex/velocidex-readable", velocidexReadable, func(d []byte) (int, error) { return readVelocidex(d, false) })
	run("velocidex+json/velocidex-readable", velocidexReadable, func(d []byte) (int, error) { return readVelocidex(d, true) })
}
