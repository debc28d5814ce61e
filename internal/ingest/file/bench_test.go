package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/ingest"
)

type countSink struct{ n int }

func (s *countSink) Submit(_ context.Context, recs []ingest.Record) error {
	s.n += len(recs)
	for _, r := range recs {
		r.Commit()
	}
	return nil
}

// BenchmarkOnce reads a 100,000-line file of sshd lines (~13 MB).
func BenchmarkOnce(b *testing.B) {
	line := "Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!\n"
	p := filepath.Join(b.TempDir(), "auth.log")
	if err := os.WriteFile(p, []byte(strings.Repeat(line, 100000)), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(line) * 100000))
	b.ReportAllocs()
	for b.Loop() {
		in, err := New(Config{Paths: []string{p}, Once: true}, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		s := &countSink{}
		if err := in.Run(context.Background(), s); err != nil {
			b.Fatal(err)
		}
		if s.n != 100000 {
			b.Fatalf("%d records", s.n)
		}
	}
}
