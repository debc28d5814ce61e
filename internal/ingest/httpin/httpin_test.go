package httpin

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/rampart-ids/rampart/internal/ingest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type sink struct {
	mu   sync.Mutex
	recs []ingest.Record
}

// Submit keeps recs and decides them as the pipeline would for these
// tests: oversize lines are quarantined, anything else is an event.
func (s *sink) Submit(_ context.Context, recs []ingest.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, recs...)
	decide(recs)
	return nil
}

func decide(recs []ingest.Record) {
	for _, r := range recs {
		if r.Format == ingest.FormatOversize {
			r.Tally.Quarantined("too_large")
		} else {
			r.Tally.Event()
		}
	}
}

// blockingSink blocks until ctx is done, like a full pipeline.
type blockingSink struct{}

func (blockingSink) Submit(ctx context.Context, _ []ingest.Record) error {
	<-ctx.Done()
	return ctx.Err()
}

func gz(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type rec struct{ Data, Format string }

func TestHandler(t *testing.T) {
	bomb := gz(t, strings.Repeat("{}\n", 400))
	bad := gz(t, `{"a":1}`+"\n")
	bad[len(bad)-5] ^= 0xff // corrupt the CRC
	tests := []struct {
		name       string
		method     string
		header     map[string]string
		body       []byte
		chunked    bool
		wantStatus int
		wantCode   string
		wantResp   Response
		wantRecs   []rec
	}{
		{name: "ndjson", body: []byte("{\"a\":1}\n\n  \n{\"b\":2}"), wantStatus: 202,
			wantResp: Response{Accepted: 2}, wantRecs: []rec{{`{"a":1}`, ""}, {`{"b":2}`, ""}}},
		{name: "lines are passed on unjudged, oversize ones marked", body: []byte("{\"a\":1}\nnot json\n[1]\n{\"x\":\"" + strings.Repeat("y", 100) + "\"}\n{\"a\":\n"),
			wantStatus: 202, wantResp: Response{Accepted: 4, Quarantined: 1, Reasons: map[string]int{"too_large": 1}},
			wantRecs: []rec{{`{"a":1}`, ""}, {"not json", ""}, {"[1]", ""},
				{`{"x":"` + strings.Repeat("y", 58), ingest.FormatOversize}, {`{"a":`, ""}}},
		{name: "gzip", header: map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"},
			body: gz(t, "{\"a\":1}\r\n{\"b\":2}\n"), wantStatus: 202, wantResp: Response{Accepted: 2},
			wantRecs: []rec{{`{"a":1}`, ""}, {`{"b":2}`, ""}}},
		{name: "empty body", body: nil, wantStatus: 202},
		{name: "json array", header: map[string]string{"Content-Type": "application/json"}, body: []byte("[{\"a\": 1},\n 2, {\"b\":\n [true]}]"),
			wantStatus: 202, wantResp: Response{Accepted: 3},
			wantRecs: []rec{{`{"a":1}`, ""}, {"2", ""}, {`{"b":[true]}`, ""}}},
		{name: "pretty object", body: []byte("{\n  \"a\": 1,\n  \"b\": \"x\"\n}\n"),
			wantStatus: 202, wantResp: Response{Accepted: 1}, wantRecs: []rec{{`{"a":1,"b":"x"}`, ""}}},
		{name: "array over record limit", body: []byte("[" + strings.Repeat("{},", 10) + "{}]"), wantStatus: 413, wantCode: CodeTooManyRecords},
		{name: "get", method: "GET", wantStatus: 405, wantCode: CodeMethodNotAllowed},
		{name: "html", header: map[string]string{"Content-Type": "text/html"}, body: []byte("{}"), wantStatus: 415, wantCode: CodeUnsupportedMediaType},
		{name: "brotli", header: map[string]string{"Content-Encoding": "br"}, body: []byte("{}"), wantStatus: 415, wantCode: CodeUnsupportedEncoding},
		{name: "body too large", body: bytes.Repeat([]byte("{}\n"), 400), wantStatus: 413, wantCode: CodeBodyTooLarge},
		{name: "body too large chunked", body: bytes.Repeat([]byte("{}\n"), 400), chunked: true, wantStatus: 413, wantCode: CodeBodyTooLarge},
		{name: "gzip bomb", header: map[string]string{"Content-Encoding": "gzip"}, body: bomb, wantStatus: 413, wantCode: CodeBodyTooLarge},
		{name: "bad gzip", header: map[string]string{"Content-Encoding": "gzip"}, body: []byte("not gzip"), wantStatus: 400, wantCode: CodeBadBody},
		{name: "gzip checksum", header: map[string]string{"Content-Encoding": "gzip"}, body: bad, wantStatus: 400, wantCode: CodeBadBody},
		{name: "too many records", body: bytes.Repeat([]byte("{}\n"), 11), wantStatus: 413, wantCode: CodeTooManyRecords},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &sink{}
			h := NewHandler(Config{MaxBodyBytes: 1000, MaxDecodedBytes: 1000, MaxRecords: 10, MaxLineBytes: 64}, s)
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			var body io.Reader = bytes.NewReader(tc.body)
			if tc.chunked {
				body = io.MultiReader(body) // unknown length
			}
			req := httptest.NewRequest(method, "/api/v1/events", body)
			if tc.chunked {
				req.ContentLength = -1
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", w.Code, tc.wantStatus, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			if tc.wantCode != "" {
				var er ErrorResponse
				if err := json.Unmarshal(w.Body.Bytes(), &er); err != nil || er.Error.Code != tc.wantCode || er.Error.Message == "" {
					t.Errorf("error body %s (%v), want code %s", w.Body, err, tc.wantCode)
				}
				if len(s.recs) != 0 {
					t.Errorf("%d records submitted by a rejected request", len(s.recs))
				}
				return
			}
			var resp Response
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatalf("body %s: %v", w.Body, err)
			}
			if diff := cmp.Diff(tc.wantResp, resp); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			var got []rec
			for _, r := range s.recs {
				got = append(got, rec{string(r.Data), r.Format})
				if r.Source != "http" || r.Host != "192.0.2.1" || r.Position == "" {
					t.Errorf("record source %q host %q position %q", r.Source, r.Host, r.Position)
				}
			}
			if diff := cmp.Diff(tc.wantRecs, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBackpressure(t *testing.T) {
	h := NewHandler(Config{SubmitTimeout: 20 * time.Millisecond, RetryAfter: 3 * time.Second}, blockingSink{})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/api/v1/events", strings.NewReader("{}\n")))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "3" {
		t.Fatalf("status %d Retry-After %q, want 503 and 3", w.Code, w.Header().Get("Retry-After"))
	}
	if strings.Contains(w.Body.String(), "deadline") {
		t.Errorf("internal error text leaked: %s", w.Body)
	}
}

// laterSink decides records from another goroutine after Submit returned,
// as the pipeline does; undecided never decides them.
type laterSink struct{ undecided bool }

func (s laterSink) Submit(_ context.Context, recs []ingest.Record) error {
	if !s.undecided {
		recs = slices.Clone(recs)
		go func() {
			for i, r := range recs {
				switch i % 3 {
				case 0:
					r.Tally.Event()
				case 1:
					r.Tally.Quarantined("invalid_json")
				default:
					r.Tally.NoEvent()
				}
			}
		}()
	}
	return nil
}

// TestReplyWaitsForDecisions checks the reply counts what the sink decided
// after Submit returned, and that a sink that never decides gets a 503,
// not a reply with made-up counts.
func TestReplyWaitsForDecisions(t *testing.T) {
	body := strings.Repeat("{\"a\":1}\n", 7)
	h := NewHandler(Config{BatchSize: 3}, laterSink{})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/api/v1/events", strings.NewReader(body)))
	var resp Response
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || w.Code != http.StatusAccepted {
		t.Fatalf("status %d body %s", w.Code, w.Body)
	}
	// Batches of 3, 3 and 1 records, each decided event, quarantined, no event in turn.
	want := Response{Accepted: 3, Quarantined: 2, NoEvent: 2, Reasons: map[string]int{"invalid_json": 2}}
	if diff := cmp.Diff(want, resp); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
	h = NewHandler(Config{SubmitTimeout: 20 * time.Millisecond}, laterSink{undecided: true})
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/api/v1/events", strings.NewReader(body)))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("undecided records: status %d, want 503", w.Code)
	}
}

// TestRetryIsIdempotent checks a retried body yields the same positions.
func TestRetryIsIdempotent(t *testing.T) {
	s := &sink{}
	h := NewHandler(Config{}, s)
	for range 2 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{\"a\":1}\n{\"a\":1}\n")))
	}
	if len(s.recs) != 4 {
		t.Fatalf("%d records, want 4", len(s.recs))
	}
	if s.recs[0].Position != s.recs[2].Position || s.recs[0].Position == s.recs[1].Position {
		t.Errorf("positions %q %q %q: want retry equal, lines distinct", s.recs[0].Position, s.recs[1].Position, s.recs[2].Position)
	}
}

// TestOverHTTP posts through a real server and client with gzip.
func TestOverHTTP(t *testing.T) {
	s := &sink{}
	srv := httptest.NewServer(NewHandler(Config{}, s))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/events", bytes.NewReader(gz(t, "{\"event\":{\"kind\":\"event\"}}\n")))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted || strings.TrimSpace(string(b)) != `{"accepted":1,"quarantined":0,"no_event":0}` {
		t.Fatalf("got %d %s", resp.StatusCode, b)
	}
	srv.Client().CloseIdleConnections()
}

// FuzzNDJSON checks the body splitter: every record is one line within
// the limit, not blank, numbered in order.
func FuzzNDJSON(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n\nnot json\r\n{\"b\":[1,2]}"), 16)
	f.Add([]byte("   \n\t\n"), 4)
	f.Add([]byte("{\"x\":\"yyyyyyyyyyyyyyyyyyyyyy\"}\n{}"), 8)
	f.Add([]byte("[{\"a\":1},\n\"s\",[]]"), 64)
	f.Add([]byte("{\n\"a\": {\"b\": null}\n}"), 64)
	f.Fuzz(func(t *testing.T, body []byte, max int) {
		if max < 1 || max > 1<<16 || len(body) > 1<<20 {
			t.Skip()
		}
		last := 0
		err := Split(body, max, func(n int, line []byte, kind LineKind) error {
			if n <= last {
				t.Fatalf("line number %d after %d", n, last)
			}
			last = n
			if len(line) > max {
				t.Fatalf("line of %d bytes over max %d", len(line), max)
			}
			if len(bytes.TrimSpace(line)) == 0 && kind != LineOversize {
				t.Fatalf("blank line passed on")
			}
			if bytes.IndexByte(line, '\n') >= 0 {
				t.Fatalf("record %q spans lines", line)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := bytes.Count(body, []byte("\n")) + 1 + bytes.Count(body, []byte(",")); last > want {
			t.Fatalf("record number %d beyond %d lines and elements", last, want)
		}
	})
}
