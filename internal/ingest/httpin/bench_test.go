package httpin

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/ingest"
)

type nopSink struct{}

func (nopSink) Submit(_ context.Context, recs []ingest.Record) error {
	for _, r := range recs {
		r.Tally.Event()
	}
	return nil
}

// BenchmarkGzip1000 posts 1,000 ECS-like lines, gzip-compressed, per request.
func BenchmarkGzip1000(b *testing.B) {
	line := `{"@timestamp":"2026-11-27T10:00:00Z","event":{"category":"authentication","outcome":"failure"},"source":{"ip":"203.0.113.7"},"user":{"name":"admin"}}` + "\n"
	raw := strings.Repeat(line, 1000)
	body := gz(b, raw)
	h := NewHandler(Config{}, nopSink{})
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/events", bytes.NewReader(body))
		req.Header.Set("Content-Encoding", "gzip")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusAccepted {
			b.Fatalf("status %d", w.Code)
		}
	}
}
