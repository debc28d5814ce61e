package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/time/rate"

	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/privacy"
)

// Bounds of a re-identification request.
const (
	maxPseudonym = 256
	maxReason    = 1024
)

// Re-identification budget per token: 10 calls a minute, burst 10. Every
// call that passes the budget is an audit record (refusals included), so
// without it one viewer token could flood the audit log.
const (
	reidentifyEvery  = 6 * time.Second
	reidentifyBurst  = 10
	maxReidentifiers = 4096 // bounds the per-token table
)

// reidentifyPolicy is the per-token re-identification budget.
var reidentifyPolicy = limitPolicy{limit: rate.Every(reidentifyEvery), burst: reidentifyBurst, keys: maxReidentifiers}

type reidentifyRequest struct {
	Pseudonym string `json:"pseudonym"`
	Reason    string `json:"reason"`
}

// allowReidentify takes one call from token's budget (see keyLimits.allow).
func (s *server) allowReidentify(token string, now time.Time) (ok bool, wait time.Duration, first bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reid.allow(reidentifyPolicy, token, now)
}

// mayReidentify is the role check made before anything else, so that a
// role without the right learns nothing (not even whether the feature is
// on). Deps.MayReidentify follows the privacy config; the default is
// admin only.
func (s *server) mayReidentify(role string) bool {
	if s.d.MayReidentify != nil {
		return s.d.MayReidentify(role)
	}
	return role == RoleAdmin
}

// reidentify is POST /api/v1/reidentify: the original of a pseudonym from
// the encrypted mapping, for roles the privacy config allows. Every call
// reaching Deps.Reidentify is audited there (allowed, denied, not found);
// the original is never logged.
func (s *server) reidentify(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	// The budget comes first, whatever the role: a refused call is audited
	// too, so it must be bounded as well. 429 says nothing about the role
	// or whether the feature is on.
	if ok, wait, first := s.allowReidentify(p.TokenID, s.d.Now()); !ok {
		if first {
			s.log.Warn("re-identification rate limit reached; refused calls are not audited until the budget refills",
				"token_name", p.Name, "role", p.Role, "retry_after", wait)
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		writeError(w, http.StatusTooManyRequests, "rate_limited", "too many re-identification calls; try again later")
		return
	}
	var body reidentifyRequest
	if !s.mayReidentify(p.Role) {
		// A refused call is audited too, with what it asked for.
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		_ = json.NewDecoder(r.Body).Decode(&body)
		if s.d.Reidentify != nil {
			_, _ = s.d.Reidentify(r.Context(), p, audit.Clip(body.Pseudonym, maxPseudonym), audit.Clip(body.Reason, maxReason))
		}
		writeError(w, http.StatusForbidden, "forbidden", "role "+p.Role+" may not re-identify pseudonyms")
		return
	}
	if s.d.Reidentify == nil {
		writeError(w, http.StatusNotFound, "not_found", "re-identification is not configured")
		return
	}
	if !decodeBody(w, r, &body) {
		return
	}
	body.Reason = strings.TrimSpace(body.Reason)
	if body.Pseudonym == "" || len(body.Pseudonym) > maxPseudonym || strings.IndexFunc(body.Pseudonym, unicode.IsSpace) >= 0 ||
		strings.IndexFunc(body.Pseudonym, unicode.IsControl) >= 0 {
		writeError(w, http.StatusBadRequest, "invalid_request", "pseudonym must be 1..256 bytes without spaces or control characters")
		return
	}
	if body.Reason == "" || len(body.Reason) > maxReason {
		writeError(w, http.StatusBadRequest, "invalid_request", "a reason (up to 1024 bytes) is required; it is recorded in the audit log")
		return
	}
	v, err := s.d.Reidentify(r.Context(), p, body.Pseudonym, body.Reason)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]string{"pseudonym": body.Pseudonym, "value": v})
	case errors.Is(err, privacy.ErrDenied):
		writeError(w, http.StatusForbidden, "forbidden", "role "+p.Role+" may not re-identify pseudonyms")
	case errors.Is(err, privacy.ErrNotFound):
		writeError(w, http.StatusNotFound, "pseudonym_not_found", "no mapping for this pseudonym (unknown, or purged by retention)")
	case errors.Is(err, privacy.ErrDisabled):
		writeError(w, http.StatusNotFound, "not_found", "re-identification is not configured")
	default:
		s.internalError(w, "re-identification failed", err)
	}
}

// PrivacyReidentify adapts a Pseudonymizer to Deps.Reidentify and
// Deps.MayReidentify: the caller's role and audit actor go with each call.
func PrivacyReidentify(p *privacy.Pseudonymizer) (func(ctx context.Context, pr Principal, pseudonym, reason string) (string, error), func(role string) bool) {
	call := func(ctx context.Context, pr Principal, pseudonym, reason string) (string, error) {
		actor := audit.ActorFrom(ctx, "token:"+pr.Name)
		return p.ReidentifyReason(privacy.WithRole(ctx, pr.Role), pseudonym, actor, reason)
	}
	return call, p.MayReidentify
}

// ReidentifyAudit returns the privacy audit func that writes each
// re-identification call to l as a "reidentified" record: actor, role,
// pseudonym, outcome and reason, never the original.
func ReidentifyAudit(l *audit.Log) privacy.AuditFunc {
	return func(ctx context.Context, e privacy.AuditEntry) error {
		expl := fmt.Sprintf("re-identification %s for role %q", e.Outcome, e.Role)
		if e.Epoch > 0 {
			expl += fmt.Sprintf(" (key epoch %d)", e.Epoch)
		}
		expl += "; reason: " + e.Reason
		_, err := l.Record(ctx, audit.Record{Time: e.Time, Actor: audit.Clip(e.Actor, audit.MaxActor), Action: audit.ActionReidentified,
			SubjectKind: "pseudonym", SubjectID: audit.Clip(e.Pseudonym, audit.MaxSubjectID), Explanation: expl})
		return err
	}
}
