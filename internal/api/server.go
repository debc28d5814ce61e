// Package api serves Rampart's REST API under /api/v1/, /metrics and /healthz.
// Every route except /healthz needs a bearer token; the role table in
// routes() is the one place that says which role may call what.
package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store"
)

// Roles, least privileged first.
const (
	RoleViewer    = "viewer"
	RoleAnalyst   = "analyst"
	RoleResponder = "responder"
	RoleAdmin     = "admin"
	RoleIngest    = "ingest"
)

// ValidRole reports whether r is a known role.
func ValidRole(r string) bool {
	switch r {
	case RoleViewer, RoleAnalyst, RoleResponder, RoleAdmin, RoleIngest:
		return true
	}
	return false
}

// Deps are the server's collaborators. Store is required.
type Deps struct {
	Store store.Store
	// Ingest handles POST /api/v1/events (nil: 404).
	Ingest http.Handler
	// Metrics handles /metrics (nil: 404).
	Metrics http.Handler
	// Reload reloads rules and indicator files (nil: 404).
	Reload func(ctx context.Context) error
	// Health reports component health for /healthz (nil: always ok).
	Health func() map[string]string
	// ViewAlert and ViewEvent adapt what a role sees (pseudonyms for lower
	// roles); nil shows everything as stored.
	ViewAlert func(role string, a alert.Alert) alert.Alert
	ViewEvent func(role string, ev *event.Event) *event.Event
	// PublicMetrics serves /metrics without a token.
	PublicMetrics bool
	// IngestRate bounds ingest requests/s per token, burst 2× (0: unlimited).
	IngestRate float64
	// MaxIngestInFlight bounds concurrent ingest requests, each holding its
	// whole body; past it the answer is 503 (0: max(4, GOMAXPROCS)).
	MaxIngestInFlight int
	// Audit is the node's audit log: console logins are recorded in it and
	// /api/v1/audit reads and verifies it (nil: not recorded, 404).
	Audit *audit.Log
	// Reidentify returns the original of a pseudonym for POST
	// /api/v1/reidentify and audits every call (nil: 404); MayReidentify
	// says which roles may call it (nil: admin only). See reidentify.go.
	Reidentify    func(ctx context.Context, p Principal, pseudonym, reason string) (string, error)
	MayReidentify func(role string) bool
	// Sessions keeps console sessions across restarts (nil: in memory).
	Sessions store.SessionStore
	// Console serves the web console's static files under /console/ (nil: 404).
	Console http.Handler
	Logger  *slog.Logger
	Now     func() time.Time
}

type server struct {
	d        Deps
	log      *slog.Logger
	mu       sync.Mutex // guards ingests and reid
	ingests  keyLimits  // per token, under ingestPolicy
	reid     keyLimits  // per token, under reidentifyPolicy
	sessions *sessions
	ingestIn chan struct{} // one slot per ingest request in flight
}

type ctxKey struct{}

// Principal is the authenticated caller.
type Principal struct {
	TokenID string
	Name    string
	Role    string
}

// Route is one endpoint and the roles allowed to call it (empty: public).
type Route struct {
	Method, Pattern string
	Roles           []string
	handler         http.HandlerFunc
}

var (
	readers   = []string{RoleViewer, RoleAnalyst, RoleResponder, RoleAdmin}
	analysts  = []string{RoleAnalyst, RoleResponder, RoleAdmin}
	admins    = []string{RoleAdmin}
	ingesters = []string{RoleIngest, RoleAdmin}
	anyRole   = []string{RoleViewer, RoleAnalyst, RoleResponder, RoleAdmin, RoleIngest}
)

func (s *server) routes() []Route {
	metricsRoles := readers
	if s.d.PublicMetrics {
		metricsRoles = nil
	}
	return []Route{
		{"GET", "/healthz", nil, s.healthz},
		{"GET", "/{$}", nil, s.rootRedirect},
		{"GET", "/console/", nil, s.console},
		{"POST", "/api/v1/session", nil, s.login},
		{"GET", "/api/v1/session", anyRole, s.currentSession},
		{"DELETE", "/api/v1/session", anyRole, s.logout},
		{"GET", "/metrics", metricsRoles, s.metrics},
		{"GET", "/api/v1/whoami", anyRole, s.whoami},
		{"GET", "/api/v1/openapi.yaml", anyRole, s.openapi},
		{"POST", "/api/v1/events", ingesters, s.ingest},
		{"GET", "/api/v1/alerts", readers, s.listAlerts},
		{"GET", "/api/v1/alerts/{id}", readers, s.getAlert},
		{"GET", "/api/v1/alerts/{id}/events", analysts, s.alertEvents},
		{"POST", "/api/v1/alerts/{id}/verdict", analysts, s.verdict},
		{"GET", "/api/v1/suppressions", readers, s.listSuppressions},
		{"POST", "/api/v1/suppressions", analysts, s.createSuppression},
		{"DELETE", "/api/v1/suppressions/{id}", analysts, s.deleteSuppression},
		{"GET", "/api/v1/quarantine", analysts, s.quarantine},
		{"POST", "/api/v1/tokens", admins, s.createToken},
		{"POST", "/api/v1/rules/reload", admins, s.reload},
		{"GET", "/api/v1/detectors", readers, s.detectors},
		{"GET", "/api/v1/audit", admins, s.auditList},
		{"GET", "/api/v1/audit/verify", admins, s.auditVerify},
		{"POST", "/api/v1/reidentify", anyRole, s.reidentify}, // roles from the privacy config, checked (and refusals audited) in the handler
	}
}

// Routes lists the server's routes and roles (for docs and the authorization test).
func Routes(d Deps) []Route { return (&server{d: d}).routes() }

// NewHandler returns the API handler.
func NewHandler(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.MaxIngestInFlight <= 0 {
		d.MaxIngestInFlight = max(4, runtime.GOMAXPROCS(0))
	}
	s := &server{d: d, log: d.Logger.With("component", "api"), sessions: newSessions(d.Sessions),
		ingestIn: make(chan struct{}, d.MaxIngestInFlight)}
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.Method+" "+rt.Pattern, s.guard(rt))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
	})
	return securityHeaders(mux)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		// No other site may embed an API answer (no-cors reads) or keep a
		// handle on a console window.
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.TLS != nil {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.ServeHTTP(w, r)
	})
}

// HashToken is how tokens are stored: hex SHA-256 of the secret.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ValidTokenName reports whether name may name a token: 1..128 bytes of
// UTF-8 without control or format (bidi, zero-width) characters and without
// surrounding spaces. The name is the audit actor ("token:<name>") and is
// shown in the console, so it must not be able to read as another name.
func ValidTokenName(name string) bool {
	if name == "" || len(name) > 128 || !utf8.ValidString(name) || strings.TrimSpace(name) != name {
		return false
	}
	return strings.IndexFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) < 0
}

// NewToken creates a random token secret and its stored record.
func NewToken(name, role string, now time.Time) (secret string, t store.Token, err error) {
	if !ValidTokenName(name) {
		return "", store.Token{}, fmt.Errorf("invalid token name %q: 1..128 bytes, no control or format characters, no surrounding spaces", name)
	}
	if !ValidRole(role) {
		return "", store.Token{}, fmt.Errorf("unknown role %q", role)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", store.Token{}, fmt.Errorf("generating token: %w", err)
	}
	secret = "rmp_" + base64.RawURLEncoding.EncodeToString(b)
	idb := make([]byte, 8)
	_, _ = rand.Read(idb)
	return secret, store.Token{ID: hex.EncodeToString(idb), Name: name, Role: role, Hash: HashToken(secret), Created: now.UTC()}, nil
}

func (s *server) guard(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(rt.Roles) == 0 {
			rt.handler(w, r)
			return
		}
		auth := r.Header.Get("Authorization")
		var (
			tok     store.Token
			sessKey string
		)
		// A console session cookie authenticates only requests without an
		// Authorization header; bearer requests are unchanged.
		if c, cerr := r.Cookie(SessionCookie); auth == "" && cerr == nil && c.Value != "" {
			var ok bool
			if tok, sessKey, ok = s.sessionAuth(w, r, c.Value); !ok {
				return
			}
		} else {
			secret, ok := strings.CutPrefix(auth, "Bearer ")
			if !ok || secret == "" || len(secret) > 256 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="rampart"`)
				writeError(w, http.StatusUnauthorized, "unauthenticated", "a bearer token is required")
				return
			}
			var err error
			if tok, err = s.d.Store.TokenByHash(r.Context(), HashToken(secret)); err != nil {
				if !errors.Is(err, store.ErrNotFound) {
					s.log.Error("token lookup failed", "err", err)
				}
				w.Header().Set("WWW-Authenticate", `Bearer realm="rampart", error="invalid_token"`)
				writeError(w, http.StatusUnauthorized, "unauthenticated", "invalid token")
				return
			}
		}
		allowed := false
		for _, role := range rt.Roles {
			if role == tok.Role {
				allowed = true
			}
		}
		if !allowed {
			// An authenticated caller above its role: worth an operator's look.
			s.log.Warn("request refused: role not allowed", "method", r.Method, "path", r.URL.Path,
				"token_name", tok.Name, "role", tok.Role, "client", clientAddr(r))
			writeError(w, http.StatusForbidden, "forbidden", "role "+tok.Role+" may not call this endpoint")
			return
		}
		ctx := context.WithValue(r.Context(), ctxKey{}, Principal{TokenID: tok.ID, Name: tok.Name, Role: tok.Role})
		// Changes this request makes are audited under the token's name.
		ctx = audit.WithActor(ctx, "token:"+tok.Name)
		if sessKey != "" {
			ctx = context.WithValue(ctx, sessionKey{}, sessKey)
		}
		rt.handler(w, r.WithContext(ctx))
	})
}

func principal(r *http.Request) Principal {
	p, _ := r.Context().Value(ctxKey{}).(Principal)
	return p
}

// errorBody is the one error shape: {"error": {"code": ..., "message": ...}}.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

// internalError logs what failed with its error and answers 500 without
// details: store errors may name tables, paths or values.
func (s *server) internalError(w http.ResponseWriter, what string, err error) {
	s.log.Error(what, "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "internal error")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody decodes a small JSON body strictly.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_body", "invalid JSON body: "+safeJSONError(err))
		return false
	}
	// One value only: what follows it would be ignored here but not by a
	// proxy or filter reading the whole body.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "invalid_body", "invalid JSON body: data after the JSON object")
		return false
	}
	return true
}

func safeJSONError(err error) string {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return "body too large"
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	status := map[string]string{"status": "ok"}
	if s.d.Health != nil {
		for k, v := range s.d.Health() {
			status[k] = v
			if v != "ok" {
				status["status"] = "degraded"
			}
		}
	}
	writeJSON(w, http.StatusOK, status)
}

func (s *server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.d.Metrics == nil {
		writeError(w, http.StatusNotFound, "not_found", "metrics disabled")
		return
	}
	s.d.Metrics.ServeHTTP(w, r)
}

//go:embed openapi.yaml
var openapiDoc []byte

func (s *server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openapiDoc)
}

func (s *server) whoami(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	writeJSON(w, http.StatusOK, map[string]string{"name": p.Name, "role": p.Role, "token_id": p.TokenID})
}

// maxIngestTokens bounds the per-token ingest limiter table.
const maxIngestTokens = 10000

// ingestPolicy is the per-token ingest budget: IngestRate requests a second
// and a burst of twice that, as config documents it, and at least one.
func (s *server) ingestPolicy() limitPolicy {
	return limitPolicy{limit: rate.Limit(s.d.IngestRate), burst: max(1, int(math.Ceil(2*s.d.IngestRate))), keys: maxIngestTokens}
}

// allowIngest takes one request from token's ingest budget (see
// keyLimits.allow).
func (s *server) allowIngest(token string, now time.Time) (ok bool, wait time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok, wait, _ = s.ingests.allow(s.ingestPolicy(), token, now)
	return ok, wait
}

func (s *server) ingest(w http.ResponseWriter, r *http.Request) {
	if s.d.Ingest == nil {
		writeError(w, http.StatusNotFound, "not_found", "HTTP ingest disabled")
		return
	}
	if s.d.IngestRate > 0 {
		// On the server's clock; Retry-After says when the next request fits.
		now := s.d.Now()
		if ok, d := s.allowIngest(principal(r).TokenID, now); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
			writeError(w, http.StatusTooManyRequests, "rate_limited", "ingest rate limit exceeded")
			return
		}
	}
	select {
	case s.ingestIn <- struct{}{}:
		defer func() { <-s.ingestIn }()
	default:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "ingest_unavailable", "too many ingest requests in flight, retry later")
		return
	}
	s.d.Ingest.ServeHTTP(w, r)
}

func parseTimeParam(q string) (time.Time, error) {
	if q == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339, q)
}

func (s *server) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	aq := store.AlertQuery{
		RuleID: q.Get("rule_id"), Detector: q.Get("detector"), MinLevel: signal.Level(q.Get("min_level")),
		Status: alert.Status(q.Get("status")), Entity: q.Get("entity"), Cursor: q.Get("cursor"),
	}
	if aq.MinLevel != "" && aq.MinLevel.Rank() < 0 {
		writeError(w, http.StatusBadRequest, "invalid_parameter", "unknown min_level")
		return
	}
	if aq.Status != "" && aq.Status != alert.StatusOpen && aq.Status != alert.StatusClosed {
		writeError(w, http.StatusBadRequest, "invalid_parameter", "status must be open or closed")
		return
	}
	var err error
	if aq.Since, err = parseTimeParam(q.Get("since")); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_parameter", "since must be RFC 3339")
		return
	}
	if aq.Until, err = parseTimeParam(q.Get("until")); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_parameter", "until must be RFC 3339")
		return
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "invalid_parameter", "limit must be 1..1000")
			return
		}
		aq.Limit = n
	}
	page, err := s.d.Store.ListAlerts(r.Context(), aq)
	if errors.Is(err, store.ErrInvalid) {
		writeError(w, http.StatusBadRequest, "invalid_parameter", "invalid cursor or filter")
		return
	}
	if err != nil {
		s.internalError(w, "listing alerts failed", err)
		return
	}
	out := struct {
		Alerts []Alert `json:"alerts"`
		Next   string  `json:"next,omitempty"`
	}{Alerts: make([]Alert, 0, len(page.Alerts)), Next: page.Next}
	for i := range page.Alerts {
		a := s.viewAlert(r, page.Alerts[i])
		out.Alerts = append(out.Alerts, AlertJSON(&a))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) loadAlert(w http.ResponseWriter, r *http.Request) (alert.Alert, bool) {
	id := r.PathValue("id")
	if len(id) > 128 {
		writeError(w, http.StatusNotFound, "alert_not_found", "no such alert")
		return alert.Alert{}, false
	}
	a, err := s.d.Store.GetAlert(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "alert_not_found", "no such alert")
		return a, false
	}
	if err != nil {
		s.internalError(w, "loading alert failed", err)
		return a, false
	}
	return a, true
}

func (s *server) getAlert(w http.ResponseWriter, r *http.Request) {
	if a, ok := s.loadAlert(w, r); ok {
		a = s.viewAlert(r, a)
		writeJSON(w, http.StatusOK, AlertJSON(&a))
	}
}

func (s *server) alertEvents(w http.ResponseWriter, r *http.Request) {
	a, ok := s.loadAlert(w, r)
	if !ok {
		return
	}
	evs, err := s.d.Store.GetEvents(r.Context(), a.EventIDs)
	if err != nil {
		s.internalError(w, "loading events failed", err)
		return
	}
	out := struct {
		Events []Event `json:"events"`
	}{Events: make([]Event, 0, len(evs))}
	for _, ev := range evs {
		if s.d.ViewEvent != nil {
			ev = s.d.ViewEvent(principal(r).Role, ev)
		}
		out.Events = append(out.Events, EventJSON(ev, true))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) verdict(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Verdict string `json:"verdict"`
		Reason  string `json:"reason"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	kind := alert.VerdictKind(body.Verdict)
	if !kind.Valid() {
		writeError(w, http.StatusBadRequest, "invalid_verdict", "verdict must be true_positive, benign or false_positive")
		return
	}
	if strings.TrimSpace(body.Reason) == "" || len(body.Reason) > 4096 {
		writeError(w, http.StatusBadRequest, "invalid_verdict", "a reason (up to 4096 bytes) is required")
		return
	}
	p := principal(r)
	v := alert.Verdict{AlertID: r.PathValue("id"), Kind: kind, Reason: body.Reason, Author: p.Name, Time: s.d.Now().UTC()}
	if err := s.d.Store.SetVerdict(r.Context(), v); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, "alert_not_found", "no such alert")
			return
		}
		s.internalError(w, "storing verdict failed", err)
		return
	}
	a, ok := s.loadAlert(w, r)
	if ok {
		a = s.viewAlert(r, a)
		writeJSON(w, http.StatusOK, AlertJSON(&a))
	}
}

func (s *server) viewAlert(r *http.Request, a alert.Alert) alert.Alert {
	if s.d.ViewAlert == nil {
		return a
	}
	return s.d.ViewAlert(principal(r).Role, a)
}

func (s *server) quarantine(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "invalid_parameter", "limit must be 1..1000")
			return
		}
		limit = n
	}
	qs, err := s.d.Store.ListQuarantine(r.Context(), r.URL.Query().Get("reason"), limit)
	if err != nil {
		s.internalError(w, "listing quarantine failed", err)
		return
	}
	counts, err := s.d.Store.CountQuarantine(r.Context())
	if err != nil {
		s.internalError(w, "counting quarantine failed", err)
		return
	}
	out := struct {
		Counts  map[string]int64 `json:"counts"`
		Records []Quarantined    `json:"records"`
	}{Counts: counts, Records: make([]Quarantined, 0, len(qs))}
	for i := range qs {
		out.Records = append(out.Records, QuarantinedJSON(&qs[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) createToken(w http.ResponseWriter, r *http.Request) {
	// A console session (12 h at most, no token page) must not turn into a
	// permanent credential: tokens are made with an API token only.
	if _, viaSession := r.Context().Value(sessionKey{}).(string); viaSession {
		s.log.Warn("request refused: token creation from a console session", "token_name", principal(r).Name, "client", clientAddr(r))
		writeError(w, http.StatusForbidden, "forbidden", "API tokens are created with an admin API token, not a console session")
		return
	}
	var body struct {
		Name string `json:"name"`
		Role string `json:"role"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if !ValidTokenName(body.Name) || !ValidRole(body.Role) {
		writeError(w, http.StatusBadRequest, "invalid_token_request", "a name (1..128 bytes, no control or format characters, no surrounding spaces) and a valid role are required")
		return
	}
	secret, tok, err := NewToken(body.Name, body.Role, s.d.Now())
	if err == nil {
		err = s.d.Store.CreateToken(r.Context(), tok)
	}
	if errors.Is(err, store.ErrConflict) {
		writeError(w, http.StatusConflict, "token_exists", "a token with that name exists")
		return
	}
	if err != nil {
		s.internalError(w, "creating token failed", err)
		return
	}
	s.log.Info("token created", "token_id", tok.ID, "name", tok.Name, "role", tok.Role, "by", principal(r).Name)
	writeJSON(w, http.StatusCreated, map[string]string{"id": tok.ID, "name": tok.Name, "role": tok.Role, "token": secret})
}

func (s *server) reload(w http.ResponseWriter, r *http.Request) {
	if s.d.Reload == nil {
		writeError(w, http.StatusNotFound, "not_found", "reload not available")
		return
	}
	// A reload runs to its end (and its audit record) even if the client leaves.
	if err := s.d.Reload(context.WithoutCancel(r.Context())); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "reload_failed", "reload failed; the previous rules stay active: "+audit.Clip(err.Error(), 2000))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
}
