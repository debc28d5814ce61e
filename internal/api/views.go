package api

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/store"
)

// Endpoints behind the web console: the console itself, detector health
// and the audit view.

func (s *server) rootRedirect(w http.ResponseWriter, r *http.Request) {
	if s.d.Console == nil {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
		return
	}
	http.Redirect(w, r, "/console/", http.StatusFound)
}

func (s *server) console(w http.ResponseWriter, r *http.Request) {
	if s.d.Console == nil {
		writeError(w, http.StatusNotFound, "not_found", "console disabled")
		return
	}
	s.d.Console.ServeHTTP(w, r)
}

// detectors is GET /api/v1/detectors: per detector, alert volume, verdict
// counts and measured precision TP/(TP+FP).
func (s *server) detectors(w http.ResponseWriter, r *http.Request) {
	ds, ok := s.d.Store.(store.DetectorStatsStore)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "the store cannot count alerts by detector")
		return
	}
	stats, err := ds.DetectorStats(r.Context())
	if err != nil {
		s.internalError(w, "counting alerts by detector failed", err)
		return
	}
	out := struct {
		Detectors []DetectorHealth `json:"detectors"`
	}{Detectors: make([]DetectorHealth, 0, len(stats))}
	for _, d := range stats {
		out.Detectors = append(out.Detectors, DetectorHealthJSON(d))
	}
	writeJSON(w, http.StatusOK, out)
}

// auditCursorID marks a store.Cursor as an audit page position (LastSeen
// holds the seq the next page ends before).
const auditCursorID = "audit"

// auditList is GET /api/v1/audit: the newest records first, paged with
// ?limit= (1..1000, default 50) and ?cursor= from the previous page's next.
func (s *server) auditList(w http.ResponseWriter, r *http.Request) {
	if s.d.Audit == nil {
		writeError(w, http.StatusNotFound, "not_found", "audit log not available")
		return
	}
	q := r.URL.Query()
	limit := int64(50)
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "invalid_parameter", "limit must be 1..1000")
			return
		}
		limit = int64(n)
	}
	st := s.d.Audit.Store()
	head, err := st.Head(r.Context())
	if err != nil {
		s.internalError(w, "reading audit head failed", err)
		return
	}
	to := head.Seq
	if c := q.Get("cursor"); c != "" {
		cur, err := store.DecodeCursor(c)
		if err != nil || cur.ID != auditCursorID || cur.LastSeen < 1 {
			writeError(w, http.StatusBadRequest, "invalid_parameter", "invalid cursor")
			return
		}
		to = min(to, cur.LastSeen-1)
	}
	out := struct {
		Records []AuditRecord `json:"records"`
		Next    string        `json:"next,omitempty"`
	}{Records: []AuditRecord{}}
	if to >= 1 {
		from := max(1, to-limit+1)
		err := st.Range(r.Context(), from, to, func(rec audit.Record) error {
			out.Records = append(out.Records, AuditRecordJSON(&rec))
			return nil
		})
		if err != nil {
			s.internalError(w, "reading audit records failed", err)
			return
		}
		slices.Reverse(out.Records)
		// Records before the first retained one were pruned: no next page.
		if from > 1 && len(out.Records) == int(to-from+1) {
			out.Next = store.Cursor{LastSeen: from, ID: auditCursorID}.Encode()
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// auditVerify is GET /api/v1/audit/verify: the whole chain checked
// (hashes, links, signed checkpoints, the anchor file), naming the first
// bad record.
func (s *server) auditVerify(w http.ResponseWriter, r *http.Request) {
	if s.d.Audit == nil {
		writeError(w, http.StatusNotFound, "not_found", "audit log not available")
		return
	}
	rep, err := s.d.Audit.Verify(r.Context())
	if err != nil {
		s.internalError(w, "verifying audit chain failed", err)
		return
	}
	writeJSON(w, http.StatusOK, AuditVerificationJSON(rep))
}
