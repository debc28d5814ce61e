package stdin

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/ingest"
)

type sink struct {
	mu   sync.Mutex
	recs []ingest.Record
}

func (s *sink) Submit(_ context.Context, recs []ingest.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, recs...)
	return nil
}

type rec struct{ Data, Position, Format string }

func TestRun(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		r       io.Reader
		max     int
		want    []rec
		wantErr error
	}{
		{"lines", strings.NewReader("a\nbc\n"), 0, []rec{{"a", "0", "x"}, {"bc", "2", "x"}}, nil},
		{"last line without newline", strings.NewReader("a\nlast"), 0, []rec{{"a", "0", "x"}, {"last", "2", "x"}}, nil},
		{"oversize", strings.NewReader("toolong\nok\n"), 3, []rec{{"too", "0", ingest.FormatOversize}, {"ok", "8", "x"}}, nil},
		{"one byte reads", iotest.OneByteReader(strings.NewReader("a\nb\n")), 0, []rec{{"a", "0", "x"}, {"b", "2", "x"}}, nil},
		{"read error keeps earlier lines", io.MultiReader(strings.NewReader("a\n"), iotest.ErrReader(boom)), 0, []rec{{"a", "0", "x"}}, boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := NewReader(Config{Format: "x", MaxRecordBytes: tc.max, BatchSize: 1}, tc.r)
			s := &sink{}
			err := in.Run(context.Background(), s)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
			var got []rec
			for _, r := range s.recs {
				if r.Source != "stdin" {
					t.Errorf("source %q", r.Source)
				}
				got = append(got, rec{string(r.Data), r.Position, r.Format})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if st := in.Stats(); st.Records != uint64(len(tc.want)) {
				t.Errorf("stats records %d, want %d", st.Records, len(tc.want))
			}
		})
	}
}

// TestInteractive checks that a line is handed on without waiting for a
// full batch or the end of the stream.
func TestInteractive(t *testing.T) {
	pr, pw := io.Pipe()
	in := NewReader(Config{}, pr)
	got := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- in.Run(context.Background(), sinkFunc(func(recs []ingest.Record) { got <- string(recs[0].Data) }))
	}()
	if _, err := pw.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != "hello" {
		t.Errorf("got %q", g)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type sinkFunc func([]ingest.Record)

func (f sinkFunc) Submit(_ context.Context, recs []ingest.Record) error { f(recs); return nil }
