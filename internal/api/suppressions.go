package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/suppress"
)

// Suppression is the wire shape of a suppression.
type Suppression struct {
	ID            string    `json:"id"`
	Detector      string    `json:"detector,omitempty"`
	RuleID        string    `json:"rule_id,omitempty"`
	Entities      []string  `json:"entities"` // "kind:value"
	Reason        string    `json:"reason"`
	CreatedBy     string    `json:"created_by"`
	CreatedAt     time.Time `json:"created_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	Active        bool      `json:"active"`
	OriginAlert   string    `json:"origin_alert,omitempty"`
	OriginVerdict string    `json:"origin_verdict,omitempty"`
	Hits          int64     `json:"hits"`
	LastHit       time.Time `json:"last_hit,omitzero"`
	LastEventID   string    `json:"last_event_id,omitempty"`
}

// SuppressionJSON converts a suppression for the wire.
func SuppressionJSON(sp *suppress.Suppression, now time.Time) Suppression {
	out := Suppression{
		ID: sp.ID, Detector: sp.Detector, RuleID: sp.RuleID, Entities: make([]string, 0, len(sp.Entities)),
		Reason: sp.Reason, CreatedBy: sp.CreatedBy, CreatedAt: sp.Created, ExpiresAt: sp.Expires, Active: sp.Active(now),
		OriginAlert: sp.OriginAlert, OriginVerdict: string(sp.OriginVerdict),
		Hits: sp.Hits, LastHit: sp.LastHit, LastEventID: sp.LastEventID,
	}
	for _, e := range sp.Entities {
		out.Entities = append(out.Entities, e.String())
	}
	return out
}

func (s *server) suppressionStore(w http.ResponseWriter) (store.SuppressionStore, bool) {
	ss, ok := s.d.Store.(store.SuppressionStore)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "the store keeps no suppressions")
	}
	return ss, ok
}

// viewSuppression shows a role what it may see: entity values and the
// reason go through the same view as an alert's entities and text.
func (s *server) viewSuppression(r *http.Request, sp suppress.Suppression) suppress.Suppression {
	if s.d.ViewAlert == nil {
		return sp
	}
	a := alert.Alert{Explanation: sp.Reason, Entities: make([]signal.Entity, len(sp.Entities))}
	for i, e := range sp.Entities {
		a.Entities[i] = signal.Entity{Kind: e.Kind, Value: e.Value}
	}
	a = s.d.ViewAlert(principal(r).Role, a)
	sp.Reason = a.Explanation
	ents := make([]suppress.Entity, len(a.Entities))
	for i, e := range a.Entities {
		ents[i] = suppress.Entity{Kind: e.Kind, Value: e.Value}
	}
	sp.Entities = ents
	return sp
}

// listSuppressions is GET /api/v1/suppressions: every stored suppression,
// oldest first, expired ones (until the next expiry pass) marked inactive.
func (s *server) listSuppressions(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.suppressionStore(w)
	if !ok {
		return
	}
	list, err := ss.ListSuppressions(r.Context())
	if err != nil {
		s.internalError(w, "listing suppressions failed", err)
		return
	}
	now := s.d.Now()
	out := struct {
		Suppressions []Suppression `json:"suppressions"`
	}{Suppressions: make([]Suppression, 0, len(list))}
	for _, sp := range list {
		sp = s.viewSuppression(r, sp)
		out.Suppressions = append(out.Suppressions, SuppressionJSON(&sp, now))
	}
	writeJSON(w, http.StatusOK, out)
}

// suppressionBody is what POST /api/v1/suppressions accepts. With
// from_alert, detector, rule_id and entities default to the alert's
// (detector, rule, and its user, host and ip entities); fields given
// explicitly win.
type suppressionBody struct {
	FromAlert string    `json:"from_alert"`
	Detector  *string   `json:"detector"`
	RuleID    *string   `json:"rule_id"`
	Entities  *[]string `json:"entities"`
	Reason    string    `json:"reason"`
	// Duration is a Go duration ("72h") or whole days ("7d"); ExpiresAt
	// an RFC 3339 time. At most one; neither means suppress.DefaultTTL.
	Duration  string `json:"duration"`
	ExpiresAt string `json:"expires_at"`
}

func badSuppression(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusBadRequest, "invalid_suppression", msg)
}

// parseTTL reads "7d" or a Go duration.
func parseTTL(v string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 || n > 1000 {
			return 0, errors.New("bad days")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}

// createSuppression is POST /api/v1/suppressions.
func (s *server) createSuppression(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.suppressionStore(w)
	if !ok {
		return
	}
	var body suppressionBody
	if !decodeBody(w, r, &body) {
		return
	}
	now := s.d.Now().UTC()
	var sp suppress.Spec
	if body.FromAlert != "" {
		if len(body.FromAlert) > 128 {
			writeError(w, http.StatusNotFound, "alert_not_found", "no such alert")
			return
		}
		a, err := s.d.Store.GetAlert(r.Context(), body.FromAlert)
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, "alert_not_found", "no such alert")
			return
		}
		if err != nil {
			s.internalError(w, "loading alert failed", err)
			return
		}
		sp = suppress.FromAlert(a)
	}
	if body.Detector != nil {
		sp.Detector = *body.Detector
	}
	if body.RuleID != nil {
		sp.RuleID = *body.RuleID
	}
	if body.Entities != nil {
		if len(*body.Entities) > suppress.MaxEntities {
			badSuppression(w, "at most "+strconv.Itoa(suppress.MaxEntities)+" entities")
			return
		}
		sp.Entities = nil
		for _, e := range *body.Entities {
			ent, err := suppress.ParseEntity(e)
			if err != nil {
				badSuppression(w, strings.TrimPrefix(err.Error(), suppress.ErrInvalid.Error()+": "))
				return
			}
			sp.Entities = append(sp.Entities, ent)
		}
	}
	switch {
	case body.Duration != "" && body.ExpiresAt != "":
		badSuppression(w, "give duration or expires_at, not both")
		return
	case body.Duration != "":
		d, err := parseTTL(body.Duration)
		if err != nil || d <= 0 {
			badSuppression(w, `duration must be a positive duration such as "72h" or "7d"`)
			return
		}
		sp.TTL = d
	case body.ExpiresAt != "":
		t, err := time.Parse(time.RFC3339, body.ExpiresAt)
		if err != nil || !t.After(now) {
			badSuppression(w, "expires_at must be an RFC 3339 time in the future")
			return
		}
		sp.TTL = t.Sub(now)
	}
	sp.Reason = body.Reason
	sp.CreatedBy = principal(r).Name
	x, err := suppress.New(sp, now)
	if err != nil {
		badSuppression(w, strings.TrimPrefix(err.Error(), suppress.ErrInvalid.Error()+": "))
		return
	}
	list, err := ss.ListSuppressions(r.Context())
	if err != nil {
		s.internalError(w, "listing suppressions failed", err)
		return
	}
	if len(list) >= suppress.MaxActive {
		writeError(w, http.StatusConflict, "too_many_suppressions", "the node holds the maximum number of suppressions; delete some first")
		return
	}
	if err := ss.CreateSuppression(r.Context(), x); err != nil {
		s.internalError(w, "storing suppression failed", err)
		return
	}
	x = s.viewSuppression(r, x)
	writeJSON(w, http.StatusCreated, SuppressionJSON(&x, now))
}

// deleteSuppression is DELETE /api/v1/suppressions/{id}; ?reason= is
// recorded in the audit log (default: deleted by the caller).
func (s *server) deleteSuppression(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.suppressionStore(w)
	if !ok {
		return
	}
	id := r.PathValue("id")
	why := strings.TrimSpace(r.URL.Query().Get("reason"))
	if len(why) > suppress.MaxReason {
		badSuppression(w, "reason is at most "+strconv.Itoa(suppress.MaxReason)+" bytes")
		return
	}
	if why == "" {
		why = "deleted by " + principal(r).Name
	} else {
		why = "deleted by " + principal(r).Name + ": " + why
	}
	if len(id) > 64 {
		writeError(w, http.StatusNotFound, "suppression_not_found", "no such suppression")
		return
	}
	err := ss.DeleteSuppression(r.Context(), id, why)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "suppression_not_found", "no such suppression")
		return
	}
	if err != nil {
		s.internalError(w, "deleting suppression failed", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
