// Package httpin is the HTTP push input: the handler for
// POST /api/v1/events, whose body is NDJSON (one record per line),
// optionally gzip-compressed (Content-Encoding: gzip). A body that is one
// JSON array, or one pretty-printed object, is accepted too (see Split).
//
// The whole body is read and checked against the limits before any record
// is handed on, so a rejected request (413, 400, 415) leaves nothing
// behind. The handler only frames records: each line is read like a line
// of any other input (format auto-detected unless Config.Format names
// one), so the same bytes get the same quarantine reason whichever input
// they came through. Lines longer than MaxLineBytes are passed on with
// Format ingest.FormatOversize (quarantined as "too_large"); blank lines
// are framing, not records.
//
// The request waits until the sink has decided every record (event,
// quarantine entry or record without an event, through Record.Tally), so
// the 202 reply counts exactly what became of them. It does not wait for
// the store write that follows.
//
// Record.Position is "<body hash>:<line number>", so a client retrying the
// same body after a 503 produces the same event ids and no duplicate alert.
// Authentication is done by the API middleware in front of this handler.
package httpin

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/ingest"
)

// Config configures the handler. Zero values get the defaults noted.
type Config struct {
	// Source is Record.Source (default "http").
	Source string
	// Format is the format hint for well-formed lines ("" = auto-detect).
	Format string
	// MaxBodyBytes bounds the body as sent, compressed or not (default 16 MiB).
	MaxBodyBytes int64
	// MaxDecodedBytes bounds the body after decompression, against gzip
	// bombs (default MaxBodyBytes when that is set, else 64 MiB).
	MaxDecodedBytes int64
	// MaxRecords bounds the lines of one request (default 10000).
	MaxRecords int
	// MaxLineBytes bounds one line (default 1 MiB); longer lines are quarantined.
	MaxLineBytes int
	// SubmitTimeout is how long the pipeline may block the request before
	// it is answered 503 (default 10s).
	SubmitTimeout time.Duration
	// RetryAfter is the Retry-After sent with 503 (default 5s).
	RetryAfter time.Duration
	// BatchSize is the most records handed to the sink at once (default 500).
	BatchSize int
	// Now is the wall clock for Record.Received (default time.Now).
	Now func() time.Time
	// Logger receives errors the client does not see (nil discards).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Source == "" {
		c.Source = "http"
	}
	if c.MaxDecodedBytes <= 0 {
		c.MaxDecodedBytes = 64 << 20
		if c.MaxBodyBytes > 0 {
			c.MaxDecodedBytes = c.MaxBodyBytes
		}
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 16 << 20
	}
	if c.MaxRecords <= 0 {
		c.MaxRecords = 10000
	}
	if c.MaxLineBytes <= 0 {
		c.MaxLineBytes = 1 << 20
	}
	if c.SubmitTimeout <= 0 {
		c.SubmitTimeout = 10 * time.Second
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = 5 * time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Error codes in JSON error bodies.
const (
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeUnsupportedEncoding  = "unsupported_encoding"
	CodeBodyTooLarge         = "body_too_large"
	CodeTooManyRecords       = "too_many_records"
	CodeBadBody              = "bad_body"
	CodeUnavailable          = "ingest_unavailable"
)

// Response is the 202 body: what became of each record of the request.
// Accepted + Quarantined + NoEvent is the number of records framed.
type Response struct {
	// Accepted records became events (stored, or only the evidence events
	// when the pipeline keeps evidence only).
	Accepted int `json:"accepted"`
	// Quarantined records are kept in quarantine with a reason.
	Quarantined int `json:"quarantined"`
	// NoEvent records carry no event (a Zeek header, a comment line).
	NoEvent int `json:"no_event"`
	// Reasons counts the quarantined records by reason.
	Reasons map[string]int `json:"reasons,omitempty"`
}

// ErrorResponse is the body of every non-2xx answer.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody says what went wrong in words safe to show the client.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type handler struct {
	cfg  Config
	sink ingest.Sink
}

// NewHandler returns the POST /api/v1/events handler.
func NewHandler(cfg Config, sink ingest.Sink) http.Handler {
	cfg.setDefaults()
	cfg.Logger = cfg.Logger.With("component", "ingest/httpin")
	return &handler{cfg: cfg, sink: sink}
}

// reqError is a client-visible failure.
type reqError struct {
	status int
	code   string
	msg    string
}

func (e *reqError) Error() string { return e.code + ": " + e.msg }

var errDecodedTooLarge = errors.New("decoded body too large")

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, &reqError{http.StatusMethodNotAllowed, CodeMethodNotAllowed, "use POST"})
		return
	}
	if err := checkHeaders(r); err != nil {
		writeError(w, err)
		return
	}
	if r.ContentLength > h.cfg.MaxBodyBytes {
		writeError(w, h.tooLarge())
		return
	}
	body, err := h.readBody(w, r)
	if err != nil {
		var re *reqError
		if !errors.As(err, &re) {
			re = &reqError{http.StatusBadRequest, CodeBadBody, "body could not be read"}
			h.cfg.Logger.Debug("body read failed", "err", err)
		}
		writeError(w, re)
		return
	}
	recs, err := h.split(body, remoteIP(r.RemoteAddr))
	if err != nil {
		writeError(w, err)
		return
	}
	resp, err := h.submit(r.Context(), recs)
	if err != nil {
		if r.Context().Err() != nil {
			return // the client is gone
		}
		h.cfg.Logger.Warn("submit failed", "err", err, "records", len(recs))
		w.Header().Set("Retry-After", strconv.Itoa(int((h.cfg.RetryAfter+time.Second-1)/time.Second)))
		writeError(w, &reqError{http.StatusServiceUnavailable, CodeUnavailable, "ingest is busy, retry later"})
		return
	}
	writeJSON(w, http.StatusAccepted, resp)
}

func (h *handler) tooLarge() *reqError {
	return &reqError{http.StatusRequestEntityTooLarge, CodeBodyTooLarge,
		fmt.Sprintf("body exceeds %d bytes (%d decoded)", h.cfg.MaxBodyBytes, h.cfg.MaxDecodedBytes)}
}

func checkHeaders(r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err != nil:
			return &reqError{http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "malformed Content-Type"}
		case mt == "application/x-ndjson", mt == "application/ndjson", mt == "application/jsonl",
			mt == "application/x-jsonlines", mt == "application/json", mt == "text/plain":
		default:
			return &reqError{http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
				"Content-Type must be application/x-ndjson"}
		}
	}
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity", "gzip", "x-gzip":
	default:
		return &reqError{http.StatusUnsupportedMediaType, CodeUnsupportedEncoding,
			"Content-Encoding must be gzip or identity"}
	}
	return nil
}

// readBody reads the whole (decompressed) body within the limits.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var src io.Reader = http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes)
	if enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc == "gzip" || enc == "x-gzip" {
		zr, err := gzip.NewReader(src)
		if err != nil {
			if isMaxBytes(err) {
				return nil, h.tooLarge()
			}
			return nil, &reqError{http.StatusBadRequest, CodeBadBody, "body is not valid gzip"}
		}
		defer zr.Close()
		src = zr
	}
	// Read one byte past the limit to tell "exactly at" from "over".
	body, err := readAll(io.LimitReader(src, h.cfg.MaxDecodedBytes+1), r.ContentLength, h.cfg.MaxDecodedBytes)
	if err != nil {
		if isMaxBytes(err) {
			return nil, h.tooLarge()
		}
		if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &reqError{http.StatusBadRequest, CodeBadBody, "body is not valid gzip"}
		}
		return nil, fmt.Errorf("reading events body: %w", err)
	}
	if int64(len(body)) > h.cfg.MaxDecodedBytes {
		return nil, h.tooLarge()
	}
	return body, nil
}

// readAll is io.ReadAll starting from a buffer sized for the declared
// Content-Length (bounded by limit, and grown as usual past it), so a
// large body is not copied through a series of doubling buffers.
func readAll(r io.Reader, declared, limit int64) ([]byte, error) {
	size := int64(512)
	if declared > 0 {
		size = min(declared, limit) + 1 // +1: room to see EOF without growing
	}
	b := make([]byte, 0, size)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // let append pick the next capacity
		}
	}
}

func isMaxBytes(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}

// split frames body into records.
func (h *handler) split(body []byte, host string) ([]ingest.Record, error) {
	sum := sha256.Sum256(body)
	prefix := hex.EncodeToString(sum[:8]) + ":"
	now := h.cfg.Now()
	var recs []ingest.Record
	err := Split(body, h.cfg.MaxLineBytes, func(n int, line []byte, kind LineKind) error {
		if len(recs) >= h.cfg.MaxRecords {
			return &reqError{http.StatusRequestEntityTooLarge, CodeTooManyRecords,
				fmt.Sprintf("more than %d records in one request", h.cfg.MaxRecords)}
		}
		rec := ingest.Record{
			Source:   h.cfg.Source,
			Position: prefix + strconv.Itoa(n),
			Data:     line,
			Received: now,
			Format:   h.cfg.Format,
			Host:     host,
		}
		if kind == LineOversize {
			rec.Format = ingest.FormatOversize
		}
		recs = append(recs, rec)
		return nil
	})
	return recs, err
}

// LineKind tells a record within the limit from the head of a longer one.
type LineKind int

// Line kinds.
const (
	LineRecord   LineKind = iota // a record within the limit
	LineOversize                 // longer than the limit; the line passed is its head
)

// Split frames a request body: NDJSON as SplitNDJSON does, except that a
// body that is one JSON array of objects yields its elements, and a body
// that is one pretty-printed JSON object yields that object (both
// compacted to one line), since clients commonly send those by mistake.
// It judges no record: that is the parsers' job, as for every input.
func Split(body []byte, maxLine int, fn func(n int, line []byte, kind LineKind) error) error {
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return nil
	case trimmed[0] == '[' && format.ValidJSON(trimmed):
		return splitArray(trimmed, maxLine, fn)
	case trimmed[0] == '{' && bytes.IndexByte(trimmed, '\n') >= 0 && !firstLineValid(trimmed) && format.ValidJSON(trimmed):
		return emitValue(1, trimmed, maxLine, fn)
	}
	return SplitNDJSON(body, maxLine, fn)
}

func firstLineValid(b []byte) bool {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return format.ValidJSON(bytes.TrimSpace(line))
}

// splitArray yields the elements of a valid JSON array, numbered from 1.
func splitArray(arr []byte, maxLine int, fn func(int, []byte, LineKind) error) error {
	dec := json.NewDecoder(bytes.NewReader(arr))
	if _, err := dec.Token(); err != nil { // '['
		return fmt.Errorf("splitting json array: %w", err)
	}
	for n := 1; dec.More(); n++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("splitting json array: %w", err)
		}
		if err := emitValue(n, raw, maxLine, fn); err != nil {
			return err
		}
	}
	return nil
}

// emitValue passes one valid JSON value, compacted, to fn.
func emitValue(n int, v []byte, maxLine int, fn func(int, []byte, LineKind) error) error {
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return fmt.Errorf("compacting json value: %w", err)
	}
	line, kind := b.Bytes(), LineRecord
	if len(line) > maxLine {
		line, kind = line[:maxLine], LineOversize
	}
	return fn(n, line, kind)
}

// SplitNDJSON calls fn for every non-blank line of body with its 1-based
// line number, its bytes (a fresh copy without the line break and the
// space around it, at most maxLine bytes) and its kind. It stops at the
// first error fn returns.
func SplitNDJSON(body []byte, maxLine int, fn func(n int, line []byte, kind LineKind) error) error {
	lr := ingest.NewLineReader(bytes.NewReader(body), 0, maxLine)
	for n := 1; ; n++ {
		ln, err := lr.Next()
		if errors.Is(err, io.EOF) {
			var ok bool
			if ln, ok = lr.Flush(); !ok {
				return nil
			}
		} else if err != nil {
			return fmt.Errorf("splitting ndjson: %w", err)
		}
		data := bytes.TrimSpace(ln.Data)
		if len(data) > 0 || ln.Oversize {
			kind := LineRecord
			if ln.Oversize {
				kind = LineOversize
			}
			if err := fn(n, bytes.Clone(data), kind); err != nil {
				return err
			}
		}
		if ln.End >= int64(len(body)) {
			return nil
		}
	}
}

// submit hands recs to the sink and waits until it has decided them all.
func (h *handler) submit(ctx context.Context, recs []ingest.Record) (Response, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.SubmitTimeout)
	defer cancel()
	tally := ingest.NewTally(len(recs))
	for i := range recs {
		recs[i].Tally = tally
	}
	for rest := recs; len(rest) > 0; {
		n := min(len(rest), h.cfg.BatchSize)
		if err := h.sink.Submit(ctx, rest[:n]); err != nil {
			return Response{}, fmt.Errorf("submitting http records: %w", err)
		}
		rest = rest[n:]
	}
	select {
	case <-tally.Done():
	case <-ctx.Done():
		return Response{}, fmt.Errorf("waiting for http records to be decided: %w", ctx.Err())
	}
	var resp Response
	resp.Accepted, resp.Quarantined, resp.NoEvent, resp.Reasons = tally.Counts()
	return resp, nil
}

func remoteIP(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

func writeError(w http.ResponseWriter, err error) {
	var re *reqError
	if !errors.As(err, &re) {
		re = &reqError{http.StatusInternalServerError, "internal", "internal error"}
	}
	writeJSON(w, re.status, ErrorResponse{Error: ErrorBody{Code: re.code, Message: re.msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
